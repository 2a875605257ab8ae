// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.keys.XpfoEcPrivateKey;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.keys.XpfoRsaPrivateKey;

import java.lang.foreign.MemorySegment;
import java.security.SignatureException;

/**
 * Hash-then-sign signatures with streaming updates: {@code SHAnnnwithECDSA} (DER {@code
 * ECDSA-Sig-Value}, as the JDK's) and {@code SHAnnnwithRSA} (PKCS#1 v1.5, libcrypto's default).
 */
public class DigestSignature extends XpfoSignature {
    private final String keyName;
    private MemorySegment digest;
    private boolean started;

    DigestSignature(String algorithm, String digest, Class<? extends XpfoPrivateKey> keyClass, String keyName) {
        super(algorithm, keyClass);
        this.keyName = keyName;
        this.digest = digest == null ? MemorySegment.NULL : context.string(digest);
    }

    /** SHA256withECDSA, SHA384withECDSA, SHA512withECDSA. */
    public static DigestSignature ecdsa(String digest) {
        return new DigestSignature(digest + "withECDSA", digest, XpfoEcPrivateKey.class, "EC");
    }

    /** SHA256withRSA, SHA384withRSA, SHA512withRSA. */
    public static DigestSignature rsa(String digest) {
        return new DigestSignature(digest + "withRSA", digest, XpfoRsaPrivateKey.class, "RSA");
    }

    @Override
    String expectedKey() {
        return keyName;
    }

    void digest(String name) {
        digest = context.string(name);
    }

    @Override
    void restart() {
        started = false;
    }

    /** Initialises the native context for a new signature; subclasses add padding. */
    MemorySegment begin() throws SignatureException {
        return context.begin(key, digest, reusesContext());
    }

    /** Whether a context that signed with the same key and digest may be re-initialised in place. */
    boolean reusesContext() {
        return true;
    }

    private void ensureStarted() throws SignatureException {
        requireSigning();
        if (!started) {
            begin();
            started = true;
        }
    }

    @Override
    protected void engineUpdate(byte[] b, int off, int len) throws SignatureException {
        ensureStarted();
        context.update(b, off, len);
    }

    @Override
    protected byte[] engineSign() throws SignatureException {
        ensureStarted();
        started = false;
        return context.finish();
    }
}
