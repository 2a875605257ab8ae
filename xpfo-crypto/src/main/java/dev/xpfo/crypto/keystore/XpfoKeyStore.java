// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keystore;

import dev.xpfo.crypto.XpfoKeyStoreParameter;
import dev.xpfo.crypto.keys.PrivateKeyFiles;
import dev.xpfo.crypto.keys.XpfoPrivateKey;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.KeyStoreSpi;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.Enumeration;
import java.util.List;

/**
 * The {@code XPFO} key store: one private key imported into secret memory by {@link PrivateKeyFiles}
 * and its certificate chain, loaded through {@link XpfoKeyStoreParameter}. Read-only: a key that never
 * leaves secret memory cannot be stored anywhere else.
 *
 * <p>Every read returns the same key object: the JDK's {@code NewSunX509} key manager keeps entries in a
 * {@code SoftReference} and asks again after a collection, which must not import the key a second time.
 * {@link #engineGetEntry} accepts a null protection parameter (the JDK's default demands a password).
 */
public final class XpfoKeyStore extends KeyStoreSpi {
    /** What was loaded, replaced as a whole: key managers read it from every handshake's thread. */
    private record Loaded(String alias, KeyStore.PrivateKeyEntry entry, long millis) {
    }

    private volatile Loaded loaded;

    @Override
    public void engineLoad(KeyStore.LoadStoreParameter parameter) throws IOException, CertificateException {
        if (!(parameter instanceof XpfoKeyStoreParameter files)) {
            throw new IllegalArgumentException("an XPFO key store loads from an XpfoKeyStoreParameter (key file and certificate chain), not "
                    + (parameter == null ? "null" : parameter.getClass().getName()));
        }
        List<X509Certificate> chain = certificates(files);
        XpfoPrivateKey key;
        try {
            key = PrivateKeyFiles.read(files.keyPath());
        } catch (InvalidKeyException e) {
            throw new IOException("cannot import the private key " + files.keyPath() + ": " + e.getMessage(), e);
        }
        if (!key.publicKey().equals(chain.getFirst().getPublicKey())) {
            key.destroy();
            throw new CertificateException("the first certificate of " + files.certificatePath() + " (" + chain.getFirst().getSubjectX500Principal()
                    + ") is not for the private key " + files.keyPath());
        }
        KeyStore.PrivateKeyEntry loadedEntry;
        try {
            loadedEntry = new KeyStore.PrivateKeyEntry(key, chain.toArray(new X509Certificate[0]));
        } catch (IllegalArgumentException e) {
            key.destroy();
            throw new CertificateException("the certificate chain " + files.certificatePath() + " does not fit the key " + files.keyPath() + ": " + e.getMessage(), e);
        }
        release();
        loaded = new Loaded(files.alias(), loadedEntry, System.currentTimeMillis());
    }

    private static List<X509Certificate> certificates(XpfoKeyStoreParameter files) throws IOException, CertificateException {
        Collection<? extends Certificate> read;
        try (InputStream in = Files.newInputStream(files.certificatePath())) {
            read = CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
        if (read.isEmpty()) {
            throw new CertificateException("no certificate in " + files.certificatePath());
        }
        return read.stream().map(X509Certificate.class::cast).toList();
    }

    /** A null stream makes an empty key store (as {@code KeyStore.load(null, null)} does for every type). */
    @Override
    public void engineLoad(InputStream stream, char[] password) throws IOException {
        if (stream != null) {
            throw new IOException("an XPFO key store loads from an XpfoKeyStoreParameter (key file and certificate chain), not a stream");
        }
        release();
    }

    private void release() {
        Loaded previous = loaded;
        loaded = null;
        if (previous != null) {
            ((XpfoPrivateKey) previous.entry().getPrivateKey()).destroy();
        }
    }

    /** The entry under {@code name}, or null. */
    private KeyStore.PrivateKeyEntry entry(String name) {
        Loaded now = loaded;
        return now != null && now.alias().equals(name) ? now.entry() : null;
    }

    /** The key, whatever the password (the file was unencrypted). */
    @Override
    public Key engineGetKey(String name, char[] password) {
        KeyStore.PrivateKeyEntry entry = entry(name);
        return entry == null ? null : entry.getPrivateKey();
    }

    /** The entry, whatever the protection parameter, null included. */
    @Override
    public KeyStore.Entry engineGetEntry(String name, KeyStore.ProtectionParameter protection) {
        return entry(name);
    }

    @Override
    public Certificate[] engineGetCertificateChain(String name) {
        KeyStore.PrivateKeyEntry entry = entry(name);
        return entry == null ? null : entry.getCertificateChain();
    }

    @Override
    public Certificate engineGetCertificate(String name) {
        KeyStore.PrivateKeyEntry entry = entry(name);
        return entry == null ? null : entry.getCertificate();
    }

    @Override
    public Date engineGetCreationDate(String name) {
        Loaded now = loaded;
        return now != null && now.alias().equals(name) ? new Date(now.millis()) : null;
    }

    @Override
    public void engineSetKeyEntry(String name, Key key, char[] password, Certificate[] chain) throws KeyStoreException {
        throw readOnly();
    }

    @Override
    public void engineSetKeyEntry(String name, byte[] key, Certificate[] chain) throws KeyStoreException {
        throw readOnly();
    }

    @Override
    public void engineSetCertificateEntry(String name, Certificate certificate) throws KeyStoreException {
        throw readOnly();
    }

    @Override
    public void engineDeleteEntry(String name) throws KeyStoreException {
        throw readOnly();
    }

    private static KeyStoreException readOnly() {
        return new KeyStoreException("the XPFO key store is read-only: it is loaded from a key file and a certificate chain");
    }

    @Override
    public Enumeration<String> engineAliases() {
        Loaded now = loaded;
        return Collections.enumeration(now == null ? List.of() : List.of(now.alias()));
    }

    @Override
    public boolean engineContainsAlias(String name) {
        return entry(name) != null;
    }

    @Override
    public int engineSize() {
        return loaded == null ? 0 : 1;
    }

    @Override
    public boolean engineIsKeyEntry(String name) {
        return entry(name) != null;
    }

    @Override
    public boolean engineIsCertificateEntry(String name) {
        return false;
    }

    @Override
    public String engineGetCertificateAlias(Certificate certificate) {
        Loaded now = loaded;
        return now != null && now.entry().getCertificate().equals(certificate) ? now.alias() : null;
    }

    /** Refused: the key never leaves secret memory, so there is nothing to write. */
    @Override
    public void engineStore(OutputStream stream, char[] password) {
        throw new UnsupportedOperationException("the XPFO key store cannot be stored: its key never leaves secret memory");
    }
}
