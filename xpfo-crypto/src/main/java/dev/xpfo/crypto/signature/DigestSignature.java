// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.keys.XpfoEcPrivateKey;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.keys.XpfoRsaPrivateKey;

import java.lang.foreign.MemorySegment;
import java.security.SignatureException;
import java.util.List;

/**
 * Hash-then-sign signatures with streaming updates: {@code SHAnnnwithECDSA} (DER {@code
 * ECDSA-Sig-Value}, as the JDK's) and {@code SHAnnnwithRSA} (PKCS#1 v1.5, libcrypto's default).
 * Verification answers as SunEC and SunRsaSign do: false for a wrong signature, and a
 * {@link SignatureException} for one that cannot be a signature of the key (malformed DER, an RSA
 * signature of another length than the modulus); stricter than SunEC on an ECDSA INTEGER that is not
 * DER (negative): SunEC reads its magnitude, XPFO throws {@link SignatureException}.
 */
public class DigestSignature extends XpfoSignature {
    private final String keyName;
    private final List<String> verificationTypes;
    private String digestName;
    private MemorySegment digest;
    private boolean started;

    DigestSignature(String algorithm, String digest, Class<? extends XpfoPrivateKey> keyClass, String keyName, List<String> verificationTypes) {
        super(algorithm, keyClass);
        this.keyName = keyName;
        this.verificationTypes = verificationTypes;
        this.digestName = digest;
        this.digest = digest == null ? MemorySegment.NULL : SignContext.name(digest);
    }

    /** SHA256withECDSA, SHA384withECDSA, SHA512withECDSA. */
    public static DigestSignature ecdsa(String digest) {
        return new DigestSignature(digest + "withECDSA", digest, XpfoEcPrivateKey.class, "EC", List.of("EC"));
    }

    /** SHA256withRSA, SHA384withRSA, SHA512withRSA. */
    public static DigestSignature rsa(String digest) {
        return new DigestSignature(digest + "withRSA", digest, XpfoRsaPrivateKey.class, "RSA", List.of("RSA"));
    }

    @Override
    String expectedKey() {
        return keyName;
    }

    @Override
    List<String> verificationKeyTypes() {
        return verificationTypes;
    }

    void digest(String name) {
        digestName = name;
        digest = SignContext.name(name);
    }

    @Override
    void restart() {
        started = false;
    }

    /**
     * Initialises the native context for a new signature (a copy of the key's template for this
     * digest and {@link #templateSpec}) or verification; subclasses add padding ({@link #configure}).
     */
    void begin() throws SignatureException {
        if (purpose == SignContext.Purpose.SIGN && key instanceof XpfoPrivateKey privateKey) {
            context.beginSigning(privateKey, templateSpec(), digest, this::configure);
        } else {
            configure(context.begin(key, digest, reusesContext(), purpose));
        }
    }

    /** What a signing template is made with, beyond the key: the digest; subclasses add padding. */
    Object templateSpec() {
        return digestName;
    }

    /** Sets the padding in a freshly initialised key context; nothing for ECDSA and PKCS#1 v1.5. */
    void configure(MemorySegment pkeyCtx) throws SignatureException {
    }

    /** Whether a context that signed with the same key and digest may be re-initialised in place. */
    boolean reusesContext() {
        return true;
    }

    private void ensureStarted() throws SignatureException {
        requireInitialised();
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
        requireSigning();
        ensureStarted();
        started = false;
        return context.finish(key);
    }

    @Override
    protected boolean engineVerify(byte[] sigBytes) throws SignatureException {
        requireVerifying();
        boolean hashed = started;
        started = false; // whatever happens, the next update starts a new message
        if ("RSA".equals(keyName) && sigBytes.length != verificationKey().size()) {
            throw new SignatureException("Bad signature length: got " + sigBytes.length + " but was expecting " + verificationKey().size());
        }
        if (!hashed) {
            begin(); // an empty message
        }
        return context.verifyFinish(sigBytes);
    }
}
