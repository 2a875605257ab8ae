// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.heap.CryptoHeap;
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

/**
 * Common ground of the XPFO signatures: signing with {@link XpfoPrivateKey}s only (of the one key
 * class the algorithm takes); verification is left to the JDK's providers, which hold only public
 * keys. The native context is initialised lazily at the first update, and again after each
 * signature (the JCA's "reset to the state after initSign").
 */
abstract class XpfoSignature extends SignatureSpi {
    private final String algorithm;
    private final Class<? extends XpfoPrivateKey> keyClass;
    final SignContext context = new SignContext(this);
    XpfoPrivateKey key;

    XpfoSignature(String algorithm, Class<? extends XpfoPrivateKey> keyClass) {
        this.algorithm = algorithm;
        this.keyClass = keyClass;
    }

    @Override
    protected void engineInitVerify(PublicKey publicKey) throws InvalidKeyException {
        throw new InvalidKeyException("XPFO's " + algorithm + " signs with XPFO private keys; verify with the JDK's providers");
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
        context.reset();
        key = candidate;
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

    /** Forget the message so far; the next update starts a new signature. */
    abstract void restart();

    void requireSigning() throws SignatureException {
        if (key == null) {
            throw new SignatureException("not initialised for signing (XPFO verifies nothing: use the JDK's providers)");
        }
    }

    @Override
    protected void engineUpdate(byte b) throws SignatureException {
        engineUpdate(new byte[] {b}, 0, 1);
    }

    @Override
    protected boolean engineVerify(byte[] sigBytes) throws SignatureException {
        throw new SignatureException("XPFO does not verify: use the JDK's providers");
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
