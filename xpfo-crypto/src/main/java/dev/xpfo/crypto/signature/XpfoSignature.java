// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.keys.XpfoPrivateKey;

import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.InvalidParameterException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.SignatureException;
import java.security.SignatureSpi;
import java.security.spec.AlgorithmParameterSpec;
import java.util.List;

/**
 * Common ground of the XPFO signatures: signing with {@link XpfoPrivateKey}s only (of the one key
 * class the algorithm takes), and verifying with ordinary public keys of any provider (read into
 * libcrypto by {@link VerificationKey}). The native context is initialised lazily at the first
 * update, and again after each signature or verification (the JCA's "reset to the state after
 * init").
 *
 * <p>Verification is reached by asking for XPFO by name ({@code Signature.getInstance(alg, xpfo)}):
 * the services list only XPFO private keys as {@code SupportedKeyClasses}, so the JDK's delayed
 * provider selection never picks XPFO for a public key. A {@code Signature} that delayed selection
 * bound to XPFO (by signing with an XPFO key) verifies with XPFO too.
 *
 * <p>The last public key is kept with its {@code EVP_PKEY}: verifying again with the same key object
 * (by identity) does not read it again.
 */
abstract class XpfoSignature extends SignatureSpi {
    private final String algorithm;
    private final Class<? extends XpfoPrivateKey> keyClass;
    final SignContext context = new SignContext();
    /** The key of the current operation: an XPFO private key or a read public key; null before init. */
    NativeKey key;
    /** What the current operation is; null before init. */
    SignContext.Purpose purpose;
    private PublicKey lastPublicKey;
    private VerificationKey lastVerificationKey;

    XpfoSignature(String algorithm, Class<? extends XpfoPrivateKey> keyClass) {
        this.algorithm = algorithm;
        this.keyClass = keyClass;
    }

    @Override
    protected void engineInitVerify(PublicKey publicKey) throws InvalidKeyException {
        VerificationKey candidate = publicKey != null && publicKey == lastPublicKey
                ? lastVerificationKey
                : VerificationKey.read(publicKey, algorithm, "an " + expectedKey(), verificationKeyTypes()); // an EC, Ed25519, RSA
        lastPublicKey = publicKey;
        lastVerificationKey = candidate;
        key = candidate;
        purpose = SignContext.Purpose.VERIFY;
        restart();
    }

    @Override
    protected void engineInitSign(PrivateKey privateKey) throws InvalidKeyException {
        if (!keyClass.isInstance(privateKey)) {
            throw new InvalidKeyException("XPFO's " + algorithm + " needs an XPFO " + expectedKey() + " private key, not "
                    + (privateKey == null ? "null" : privateKey.getAlgorithm() + " key " + privateKey.getClass().getName()));
        }
        XpfoPrivateKey candidate = keyClass.cast(privateKey);
        CryptoHeap.ensureInstalled(); // signing nonces are secure BIGNUMs: none in the secure heap's arena
        if (candidate.isDestroyed()) {
            throw new InvalidKeyException("the XPFO key was destroyed");
        }
        // No native work here: each signature starts as a copy of the key's template for its digest
        // (SignContext.beginSigning), so a new Signature per handshake, as JSSE makes, costs a copy.
        key = candidate;
        purpose = SignContext.Purpose.SIGN;
        restart();
    }

    /**
     * Randomness is libcrypto's DRBG. JSSE's {@code initSign(key, spec, random)} lands here through
     * {@code SignatureSpi}'s package-private three-argument form, which first calls
     * {@link #engineSetParameter(AlgorithmParameterSpec)}: so the parameters survive this call.
     */
    @Override
    protected void engineInitSign(PrivateKey privateKey, SecureRandom random) throws InvalidKeyException {
        engineInitSign(privateKey);
    }

    /** The key's algorithm as a person says it: "EC", "Ed25519", "RSA". */
    abstract String expectedKey();

    /** The libcrypto key types ({@code EVP_PKEY_is_a}) this algorithm verifies with. */
    abstract List<String> verificationKeyTypes();

    /** Forget the message so far; the next update starts a new signature or verification. */
    abstract void restart();

    void requireSigning() throws SignatureException {
        if (purpose != SignContext.Purpose.SIGN) {
            throw new SignatureException("not initialised for signing");
        }
    }

    void requireVerifying() throws SignatureException {
        if (purpose != SignContext.Purpose.VERIFY) {
            throw new SignatureException("not initialised for verification");
        }
    }

    void requireInitialised() throws SignatureException {
        if (purpose == null) {
            throw new SignatureException("not initialised");
        }
    }

    /** The public key of the current verification. */
    VerificationKey verificationKey() {
        return (VerificationKey) key;
    }

    @Override
    protected void engineUpdate(byte b) throws SignatureException {
        engineUpdate(new byte[] {b}, 0, 1);
    }

    @Override
    protected void engineSetParameter(AlgorithmParameterSpec params) throws InvalidAlgorithmParameterException {
        if (params != null) {
            throw new InvalidAlgorithmParameterException(algorithm + " takes no parameters");
        }
    }

    @Override
    @Deprecated
    protected void engineSetParameter(String param, Object value) {
        throw new InvalidParameterException("no parameters by name");
    }

    @Override
    @Deprecated
    protected Object engineGetParameter(String param) {
        throw new InvalidParameterException("no parameters by name");
    }
}
