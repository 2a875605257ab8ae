// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Objects;

/**
 * What an {@code XPFO} key store loads: one unencrypted private key file (PKCS#8 or the traditional
 * EC/RSA forms, PEM or DER), read straight into secret memory, and its certificate chain (PEM or DER
 * X.509, the server's certificate first), an ordinary public object. The key store holds one entry
 * under {@link #alias()}; it needs no password (the key file is unencrypted, its protection at rest is
 * the user's).
 *
 * <pre>{@code
 * KeyStore keys = KeyStore.getInstance("XPFO", new XpfoProvider());
 * keys.load(new XpfoKeyStoreParameter(Path.of("key.pem"), Path.of("cert.pem")));
 * KeyManagerFactory managers = KeyManagerFactory.getInstance("NewSunX509");
 * managers.init(new KeyStoreBuilderParameters(KeyStore.Builder.newInstance(keys, new KeyStore.PasswordProtection(null))));
 * }</pre>
 *
 * @param keyPath the private key file
 * @param certificatePath the certificate chain file
 * @param alias the entry's alias
 */
public record XpfoKeyStoreParameter(Path keyPath, Path certificatePath, String alias) implements KeyStore.LoadStoreParameter {
    /** The alias used when none is given. */
    public static final String DEFAULT_ALIAS = "xpfo";

    public XpfoKeyStoreParameter {
        Objects.requireNonNull(keyPath, "keyPath");
        Objects.requireNonNull(certificatePath, "certificatePath");
        Objects.requireNonNull(alias, "alias");
    }

    /** The key and chain under {@link #DEFAULT_ALIAS}. */
    public XpfoKeyStoreParameter(Path keyPath, Path certificatePath) {
        this(keyPath, certificatePath, DEFAULT_ALIAS);
    }

    /** None: the key file is unencrypted. */
    @Override
    public KeyStore.ProtectionParameter getProtectionParameter() {
        return null;
    }
}
