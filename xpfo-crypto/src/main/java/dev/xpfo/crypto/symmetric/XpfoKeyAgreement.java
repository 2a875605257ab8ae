// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.internal.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

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
import java.util.HexFormat;

import javax.crypto.KeyAgreementSpi;
import javax.crypto.SecretKey;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.Destroyable;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code KeyAgreement} "ECDH" and "X25519" ("XDH") through libcrypto's {@code EVP_PKEY_derive}, with an
 * XPFO private key ({@link NativeKey}: its {@code EVP_PKEY} in secret memory; "EC" for ECDH, "XDH"
 * for X25519) and a standard JDK public key of the peer (decoded from its X.509 encoding with
 * {@code d2i_PUBKEY}). Two parties only: {@code doPhase} must be the last phase. Like the JDK's XDH,
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
    /** SubjectPublicKeyInfo of an X25519 key up to its 32 bytes: SEQUENCE { SEQUENCE { OID 1.3.101.110 }, BIT STRING (33 bytes) }. */
    private static final byte[] X25519_SPKI_PREFIX = HexFormat.of().parseHex("302a300506032b656e032100");
    /** SubjectPublicKeyInfo of a P-256 key up to its uncompressed point (65 bytes): id-ecPublicKey, prime256v1, BIT STRING. */
    private static final byte[] P256_SPKI_PREFIX = HexFormat.of().parseHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    /** The same for P-384 (97-byte point): id-ecPublicKey, secp384r1, BIT STRING. */
    private static final byte[] P384_SPKI_PREFIX = HexFormat.of().parseHex("3076301006072a8648ce3d020106052b81040022036200");

    private final String algorithm;
    private final String keyAlgorithm;
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
        if (!(key instanceof PublicKey) || !"X.509".equals(key.getFormat()) || key.getEncoded() == null) {
            throw new InvalidKeyException(algorithm + " needs the peer's public key with an X.509 encoding, not "
                    + (key == null ? "null" : key.getClass().getName()));
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
            MemorySegment peer = decodePeer(key.getEncoded());
            try {
                if (LibCrypto.evpPkeyDeriveSetPeer(ctx, peer) != 1) {
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

    private MemorySegment decodePeer(byte[] encoded) throws InvalidKeyException {
        if (keyAlgorithm.equals("XDH") && hasPrefix(encoded, X25519_SPKI_PREFIX, 32)) {
            return rawX25519Peer(encoded);
        }
        if (keyAlgorithm.equals("EC")) {
            if (hasPrefix(encoded, P256_SPKI_PREFIX, 65)) {
                return ecPeer("P-256", encoded, P256_SPKI_PREFIX.length);
            }
            if (hasPrefix(encoded, P384_SPKI_PREFIX, 97)) {
                return ecPeer("P-384", encoded, P384_SPKI_PREFIX.length);
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment der = arena.allocateFrom(JAVA_BYTE, encoded);
            MemorySegment cursor = arena.allocate(ADDRESS);
            cursor.set(ADDRESS, 0, der);
            MemorySegment peer = LibCrypto.d2iPubkey(MemorySegment.NULL, cursor, encoded.length);
            if (peer.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException("libcrypto cannot read the peer's public key: "
                        + OpenSslErrors.failure("d2i_PUBKEY", algorithm).getMessage());
            }
            return peer;
        }
    }

    /**
     * An X25519 peer from the fixed SubjectPublicKeyInfo (RFC 8410: this prefix, then the 32-byte key) by
     * {@code EVP_PKEY_new_raw_public_key_ex}: the same key {@code d2i_PUBKEY} gives, without OpenSSL
     * 3.0's decoder framework, which took about 90 us of the agreement's 140 here (C, same calls).
     */
    private MemorySegment rawX25519Peer(byte[] encoded) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(32);
            MemorySegment.copy(encoded, X25519_SPKI_PREFIX.length, raw, JAVA_BYTE, 0, 32);
            MemorySegment peer = LibCrypto.evpPkeyNewRawPublicKeyEx(MemorySegment.NULL, arena.allocateFrom("X25519"), MemorySegment.NULL, raw, 32);
            if (peer.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException("libcrypto cannot read the peer's X25519 key: "
                        + OpenSslErrors.failure("EVP_PKEY_new_raw_public_key_ex", algorithm).getMessage());
            }
            return peer;
        }
    }

    private static boolean hasPrefix(byte[] encoded, byte[] prefix, int keyBytes) {
        return encoded.length == prefix.length + keyBytes && Arrays.equals(encoded, 0, prefix.length, prefix, 0, prefix.length);
    }

    /**
     * An EC peer on {@code group} from its uncompressed point (what follows {@code pointOffset}) by
     * {@code EVP_PKEY_fromdata}, which checks that the point is on the curve; {@code EVP_PKEY_derive_set_peer}
     * then validates it fully, as before. OpenSSL 3.0's {@code d2i_PUBKEY} took 152 us for a P-256 key
     * here, {@code EVP_PKEY_fromdata} 23 us (C, same calls).
     */
    private MemorySegment ecPeer(String group, byte[] encoded, int pointOffset) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            int pointBytes = encoded.length - pointOffset;
            MemorySegment point = arena.allocate(pointBytes);
            MemorySegment.copy(encoded, pointOffset, point, JAVA_BYTE, 0, pointBytes);
            MemorySegment params = arena.allocate(LibCrypto.OSSL_PARAM, 3); // the third stays zero: the terminator
            setParam(params, 0, arena.allocateFrom("group"), LibCrypto.OSSL_PARAM_UTF8_STRING, arena.allocateFrom(group), group.length());
            setParam(params, 1, arena.allocateFrom("pub"), LibCrypto.OSSL_PARAM_OCTET_STRING, point, pointBytes);
            MemorySegment ctx = LibCrypto.evpPkeyCtxNewFromName(MemorySegment.NULL, arena.allocateFrom("EC"), MemorySegment.NULL);
            if (ctx.equals(MemorySegment.NULL)) {
                throw OpenSslErrors.failure("EVP_PKEY_CTX_new_from_name", "could not create an EC context");
            }
            try {
                MemorySegment peer = arena.allocate(ADDRESS);
                if (LibCrypto.evpPkeyFromdataInit(ctx) != 1
                        || LibCrypto.evpPkeyFromdata(ctx, peer, LibCrypto.EVP_PKEY_PUBLIC_KEY, params) != 1) {
                    throw new InvalidKeyException("libcrypto cannot read the peer's " + group + " key: "
                            + OpenSslErrors.failure("EVP_PKEY_fromdata", algorithm).getMessage());
                }
                return peer.get(ADDRESS, 0);
            } finally {
                LibCrypto.evpPkeyCtxFree(ctx);
            }
        }
    }

    /** Element {@code index} of an OSSL_PARAM array: key, type, data, size, return_size unset. */
    private static void setParam(MemorySegment params, int index, MemorySegment key, int type, MemorySegment data, long size) {
        long base = index * LibCrypto.OSSL_PARAM.byteSize();
        params.set(ADDRESS, base, key);
        params.set(JAVA_INT, base + 8, type);
        params.set(ADDRESS, base + 16, data);
        params.set(JAVA_LONG, base + 24, size);
        params.set(JAVA_LONG, base + 32, LibCrypto.OSSL_PARAM_UNMODIFIED);
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
