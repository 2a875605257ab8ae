// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.crypto.pkey.PublicKeyImport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;
import java.util.Arrays;
import java.util.List;

import javax.crypto.KeyAgreementSpi;
import javax.crypto.SecretKey;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.Destroyable;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code KeyAgreement} "ECDH" and "X25519" ("XDH") through libcrypto's {@code EVP_PKEY_derive}, with an
 * XPFO private key ({@link NativeKey}: its {@code EVP_PKEY} in secret memory; "EC" for ECDH, "XDH"
 * for X25519) and a standard JDK public key of the peer (read by {@link PublicKeyImport}, which
 * validates it with {@code EVP_PKEY_public_check}). Two parties only: {@code doPhase} must be the
 * last phase. Like the JDK's XDH,
 * the secret is computed in {@code doPhase}, so a peer that gives no secret (another curve, an X25519
 * point of small order) is refused there with {@link InvalidKeyException}. The secret waits in
 * libcrypto's heap until {@code generateSecret} hands it out (as the caller asks: a {@code byte[]} or
 * a {@code SecretKeySpec}), then is wiped.
 *
 * <p>Key destruction: the agreement holds no reference to the private key's {@code EVP_PKEY} between
 * calls (a libcrypto context holds one, and would keep the key's material alive after
 * {@code destroy()}): {@code init} checks that the key can derive and frees its context, and
 * {@code doPhase} takes a new reference, derives, and frees it. So once the key is destroyed its
 * material is freed whatever agreements were initialised with it, {@code doPhase} throws
 * {@link IllegalStateException}, and a secret derived before but not yet taken is wiped and refused
 * ({@link IllegalStateException}) by {@code generateSecret}.
 */
public final class XpfoKeyAgreement extends KeyAgreementSpi {
    private final String algorithm;
    private final String keyAlgorithm;
    /** The peer key's libcrypto type: EC or X25519. */
    private final String peerType;
    /** The private key from init (its EVP_PKEY is referenced only during doPhase), or null. */
    private NativeKey privateKey;
    private CryptoBuffer secret;

    XpfoKeyAgreement(String algorithm) {
        this.algorithm = algorithm;
        this.keyAlgorithm = switch (algorithm) {
            case "ECDH" -> "EC";
            case "X25519", "XDH" -> "XDH";
            default -> throw new IllegalArgumentException("no XPFO key agreement " + algorithm);
        };
        this.peerType = keyAlgorithm.equals("EC") ? "EC" : "X25519";
    }

    @Override
    protected void engineInit(Key key, SecureRandom random) throws InvalidKeyException {
        if (!(key instanceof NativeKey nativeKey) || !(key instanceof PrivateKey)) {
            throw new InvalidKeyException("XPFO's " + algorithm + " takes only XPFO private keys (from XPFO's KeyPairGenerator), not "
                    + (key == null ? "null" : key.getClass().getName()));
        }
        if (!key.getAlgorithm().equals(keyAlgorithm)) {
            throw new InvalidKeyException(algorithm + " needs an " + keyAlgorithm + " key, not " + key.getAlgorithm());
        }
        wipeSecret();
        privateKey = null;
        LibCrypto.evpPkeyCtxFree(newContext(nativeKey)); // the key can derive; no context is kept until doPhase
        privateKey = nativeKey;
    }

    /**
     * A derive context on a new reference to {@code key}'s EVP_PKEY (the context keeps its own; ours is
     * dropped here): the caller frees it with {@code EVP_PKEY_CTX_free}.
     *
     * @throws InvalidKeyException if the key cannot derive, or was destroyed before init
     */
    private MemorySegment newContext(NativeKey key) throws InvalidKeyException {
        CryptoHeap.ensureInstalled(); // no secure heap (direct map) for the shared secret's BIGNUMs, at init and at each doPhase
        MemorySegment pkey;
        try {
            pkey = key.newReference();
        } catch (IllegalStateException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
        try {
            MemorySegment ctx = LibCrypto.evpPkeyCtxNewFromPkey(MemorySegment.NULL, pkey, MemorySegment.NULL);
            if (ctx.equals(MemorySegment.NULL)) {
                throw OpenSslErrors.failure("EVP_PKEY_CTX_new_from_pkey", "could not create a context for " + algorithm);
            }
            if (LibCrypto.evpPkeyDeriveInit(ctx) != 1) {
                LibCrypto.evpPkeyCtxFree(ctx);
                throw new InvalidKeyException(algorithm + " cannot derive with this key: "
                        + OpenSslErrors.failure("EVP_PKEY_derive_init", algorithm).getMessage());
            }
            return ctx;
        } finally {
            LibCrypto.evpPkeyFree(pkey);
        }
    }

    @Override
    protected void engineInit(Key key, AlgorithmParameterSpec params, SecureRandom random)
            throws InvalidKeyException, InvalidAlgorithmParameterException {
        if (params != null) {
            throw new InvalidAlgorithmParameterException(algorithm + " takes no parameters");
        }
        engineInit(key, random);
    }

    @Override
    protected Key engineDoPhase(Key key, boolean lastPhase) throws InvalidKeyException {
        if (privateKey == null) {
            throw new IllegalStateException(algorithm + " is not initialised");
        }
        if (!lastPhase) {
            throw new IllegalStateException(algorithm + " has two parties: doPhase must be the last phase");
        }
        if (key != null && !(key instanceof PublicKey)) {
            throw new InvalidKeyException(algorithm + " needs the peer's public key, not " + key.getClass().getName());
        }
        wipeSecret();
        requireLiveKey();
        MemorySegment ctx;
        try {
            ctx = newContext(privateKey);
        } catch (InvalidKeyException e) {
            requireLiveKey(); // destroyed between the check and the reference: say so
            throw e;
        }
        try {
            MemorySegment peer = PublicKeyImport.read((PublicKey) key, "XPFO's " + algorithm, "takes the peer's " + peerType + " public key",
                    List.of(peerType), PublicKeyImport.Validation.PUBLIC_CHECK);
            try {
                if (LibCrypto.evpPkeyDeriveSetPeerEx(ctx, peer, 0) != 1) { // 0: PublicKeyImport ran EVP_PKEY_public_check, which this would repeat
                    throw new InvalidKeyException("the peer's key does not fit " + algorithm + " with this private key: "
                            + OpenSslErrors.failure("EVP_PKEY_derive_set_peer", algorithm).getMessage());
                }
            } finally {
                LibCrypto.evpPkeyFree(peer);
            }
            secret = derive(ctx);
        } finally {
            LibCrypto.evpPkeyCtxFree(ctx);
        }
        return null;
    }

    /** Refuses to go on with a private key destroyed since init. */
    private void requireLiveKey() {
        if (privateKey instanceof Destroyable destroyable && destroyable.isDestroyed()) {
            wipeSecret();
            throw new IllegalStateException(algorithm + " was initialised with a private key that has since been destroyed; "
                    + "initialise it with a live key");
        }
    }

    private CryptoBuffer derive(MemorySegment ctx) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocate(JAVA_LONG);
            if (LibCrypto.evpPkeyDerive(ctx, MemorySegment.NULL, length) != 1) {
                throw new InvalidKeyException(algorithm + " derived no secret: " + OpenSslErrors.failure("EVP_PKEY_derive", algorithm).getMessage());
            }
            CryptoBuffer buffer = CryptoBuffer.allocate(length.get(JAVA_LONG, 0));
            int derived;
            try {
                derived = LibCrypto.evpPkeyDerive(ctx, buffer.segment(), length);
            } finally {
                Reference.reachabilityFence(buffer);
            }
            if (derived != 1) {
                buffer.close();
                throw new InvalidKeyException(algorithm + " derived no secret (the peer's point is not usable): "
                        + OpenSslErrors.failure("EVP_PKEY_derive", algorithm).getMessage());
            }
            if (length.get(JAVA_LONG, 0) != buffer.size()) {
                buffer.close();
                throw new IllegalStateException(algorithm + " derived " + length.get(JAVA_LONG, 0) + " bytes, announced " + buffer.size());
            }
            return buffer;
        }
    }

    @Override
    protected byte[] engineGenerateSecret() {
        CryptoBuffer taken = takeSecret();
        try {
            return taken.segment().toArray(JAVA_BYTE);
        } finally {
            taken.close();
            Reference.reachabilityFence(taken);
        }
    }

    @Override
    protected int engineGenerateSecret(byte[] sharedSecret, int offset) throws ShortBufferException {
        requireLiveKey();
        if (secret == null) {
            throw new IllegalStateException(algorithm + ": doPhase has not run");
        }
        if (sharedSecret.length - offset < secret.size()) {
            throw new ShortBufferException("the secret needs " + secret.size() + " bytes");
        }
        CryptoBuffer taken = takeSecret();
        try {
            MemorySegment.copy(taken.segment(), JAVA_BYTE, 0, sharedSecret, offset, (int) taken.size());
            return (int) taken.size();
        } finally {
            taken.close();
            Reference.reachabilityFence(taken);
        }
    }

    /** "TlsPremasterSecret" or "Generic": a {@code SecretKeySpec} (a copy in the Java heap, as asked). */
    @Override
    protected SecretKey engineGenerateSecret(String secretAlgorithm) throws NoSuchAlgorithmException {
        if (!secretAlgorithm.equals("TlsPremasterSecret") && !secretAlgorithm.equalsIgnoreCase("Generic")) {
            throw new NoSuchAlgorithmException(algorithm + " gives secrets as TlsPremasterSecret or Generic, not " + secretAlgorithm);
        }
        byte[] bytes = engineGenerateSecret();
        try {
            return new SecretKeySpec(bytes, secretAlgorithm);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    private CryptoBuffer takeSecret() {
        requireLiveKey();
        if (secret == null) {
            throw new IllegalStateException(algorithm + ": doPhase has not run");
        }
        CryptoBuffer taken = secret;
        secret = null;
        return taken;
    }

    private void wipeSecret() {
        if (secret != null) {
            secret.close();
            secret = null;
        }
    }
}
