// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keystore;

import dev.xpfo.crypto.testing.SelfSignedFiles;

import dev.xpfo.crypto.XpfoKeyStoreParameter;
import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.Provider;
import java.security.cert.CertificateException;
import java.util.Collections;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509KeyManager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The XPFO key store holds one key imported into secret memory and its chain, returns the same key
 * object on every read (with or without a protection parameter), refuses a chain that is not the key's,
 * and never writes its key anywhere.
 */
class XpfoKeyStoreTest {
    private static final Provider XPFO = new XpfoProvider();

    @TempDir
    Path directory;

    private KeyStore load(SelfSignedFiles files) throws Exception {
        KeyStore store = KeyStore.getInstance("XPFO", XPFO);
        store.load(new XpfoKeyStoreParameter(files.key(), files.certificate()));
        return store;
    }

    @Test
    void holdsTheImportedKeyAndItsChain() throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256);
        KeyStore store = load(files);
        assertThat(Collections.list(store.aliases())).containsExactly(XpfoKeyStoreParameter.DEFAULT_ALIAS);
        assertThat(store.isKeyEntry("xpfo")).isTrue();
        assertThat(store.getKey("xpfo", null)).isInstanceOf(XpfoPrivateKey.class);
        assertThat(store.getKey("xpfo", null).getEncoded()).isNull();
        assertThat(store.getCertificate("xpfo")).isEqualTo(files.readCertificate());
        assertThat(store.getCertificateChain("xpfo")).containsExactly(files.readCertificate());
        assertThat(store.getKey("other", null)).isNull();
    }

    @Test
    void everyReadReturnsTheSameKeyObjectEvenWithoutProtection() throws Exception {
        KeyStore store = load(SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.ED25519));
        Object key = store.getKey("xpfo", null);
        KeyStore.PrivateKeyEntry withoutProtection = (KeyStore.PrivateKeyEntry) store.getEntry("xpfo", null);
        KeyStore.PrivateKeyEntry withPassword = (KeyStore.PrivateKeyEntry) store.getEntry("xpfo", new KeyStore.PasswordProtection(null));
        assertThat(withoutProtection.getPrivateKey()).isSameAs(key);
        assertThat(withPassword.getPrivateKey()).isSameAs(key);
        assertThat(store.getKey("xpfo", "anything".toCharArray())).isSameAs(key);
    }

    @Test
    void standardKeyManagersServeTheXpfoKey() throws Exception {
        KeyStore store = load(SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.RSA_2048));
        for (String algorithm : new String[] {"NewSunX509", "SunX509"}) {
            KeyManagerFactory factory = KeyManagerFactory.getInstance(algorithm);
            factory.init(store, null);
            X509KeyManager manager = (X509KeyManager) factory.getKeyManagers()[0];
            String alias = manager.chooseServerAlias("RSA", null, null);
            assertThat(alias).as(algorithm).isNotNull();
            assertThat(manager.getPrivateKey(alias)).as(algorithm).isSameAs(store.getKey("xpfo", null));
            assertThat(manager.getCertificateChain(alias)).as(algorithm).isEqualTo(store.getCertificateChain("xpfo"));
        }
    }

    @Test
    void aChainOfAnotherKeyIsRefused() throws Exception {
        SelfSignedFiles one = SelfSignedFiles.make(directory, "one", SelfSignedFiles.Type.EC_P256);
        SelfSignedFiles other = SelfSignedFiles.make(directory, "other", SelfSignedFiles.Type.EC_P256);
        KeyStore store = KeyStore.getInstance("XPFO", XPFO);
        assertThatThrownBy(() -> store.load(new XpfoKeyStoreParameter(one.key(), other.certificate())))
                .isInstanceOf(CertificateException.class)
                .hasMessageContaining("is not for the private key");
    }

    @Test
    void aStreamIsRefusedAndNothingIsEverWritten() throws Exception {
        KeyStore store = load(SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256));
        assertThatThrownBy(() -> store.store(new ByteArrayOutputStream(), null)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> store.setKeyEntry("copy", store.getKey("xpfo", null), null, store.getCertificateChain("xpfo")))
                .isInstanceOf(KeyStoreException.class);
        assertThatThrownBy(() -> store.deleteEntry("xpfo")).isInstanceOf(KeyStoreException.class);
        KeyStore fromStream = KeyStore.getInstance("XPFO", XPFO);
        assertThatThrownBy(() -> fromStream.load(new ByteArrayInputStream(new byte[16]), null))
                .hasMessageContaining("XpfoKeyStoreParameter");
    }

    @Test
    void reloadingReleasesThePreviousKey() throws Exception {
        KeyStore store = load(SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256));
        XpfoPrivateKey first = (XpfoPrivateKey) store.getKey("xpfo", null);
        store.load(null, null);
        assertThat(store.size()).isZero();
        assertThat(first.isDestroyed()).isTrue();
    }
}
