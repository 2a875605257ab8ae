// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.pkey;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.crypto.libcrypto.OsslParams;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * xpfo's one way to read a JCA public key (public material: a peer's, or one to verify with) into a
 * libcrypto {@code EVP_PKEY}. The key's X.509 SubjectPublicKeyInfo (or, for a key without one, the
 * JDK's {@link KeyFactory#translateKey translation}'s) is read by the shortest path libcrypto offers:
 * an EC P-256/P-384/P-521 uncompressed point by {@code EVP_PKEY_fromdata}, an X25519 or Ed25519 key
 * by {@code EVP_PKEY_new_raw_public_key_ex}, an RSA key ({@code rsaEncryption}) by
 * {@code EVP_PKEY_fromdata} of its modulus and exponent; anything else by OpenSSL's decoder
 * ({@code d2i_PUBKEY}), which is slow in OpenSSL 3.0 (152 us for a P-256 key against 23 us by
 * {@code EVP_PKEY_fromdata}, 90 us for X25519, in C with the same calls). Each fast path gives the
 * key {@code d2i_PUBKEY} gives ({@code EVP_PKEY_eq}; PublicKeyImportTest). The key's type is then
 * checked with {@code EVP_PKEY_is_a}.
 *
 * <p>What is checked: importing refuses an EC point not on its curve (fromdata and the decoder both)
 * and a raw key of the wrong length; {@link Validation#PUBLIC_CHECK} adds {@code EVP_PKEY_public_check}
 * (for a key agreement's peer: the invalid-curve and small-subgroup checks of SP 800-56A; an X25519
 * point of small order is refused by the derivation itself). Verification needs only the import's
 * checks: a bad public key can make no signature valid that the right key would refuse.
 */
public final class PublicKeyImport {
    /** SubjectPublicKeyInfo of an X25519 key up to its 32 bytes: SEQUENCE { SEQUENCE { OID 1.3.101.110 }, BIT STRING (33 bytes) }. */
    private static final byte[] X25519_PREFIX = HexFormat.of().parseHex("302a300506032b656e032100");
    /** The same for Ed25519 (OID 1.3.101.112). */
    private static final byte[] ED25519_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");
    /** SubjectPublicKeyInfo of a P-256 key up to its uncompressed point (65 bytes): id-ecPublicKey, prime256v1, BIT STRING. */
    private static final byte[] P256_PREFIX = HexFormat.of().parseHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    /** The same for P-384 (97-byte point): id-ecPublicKey, secp384r1, BIT STRING. */
    private static final byte[] P384_PREFIX = HexFormat.of().parseHex("3076301006072a8648ce3d020106052b81040022036200");
    /** The same for P-521 (133-byte point): id-ecPublicKey, secp521r1, BIT STRING with a two-byte length. */
    private static final byte[] P521_PREFIX = HexFormat.of().parseHex("30819b301006072a8648ce3d020106052b81040023038186" + "00");

    /** What is checked beyond what importing checks. */
    public enum Validation {
        /** The import's own checks (an EC point on its curve, a raw key's length): enough to verify signatures. */
        IMPORT,
        /** And {@code EVP_PKEY_public_check}: for a key agreement's peer. */
        PUBLIC_CHECK
    }

    private PublicKeyImport() {
    }

    /**
     * Reads {@code key} for {@code user} (e.g. "XPFO's SHA256withECDSA", said in messages), which takes
     * keys of the libcrypto types {@code types} ("EC", "ED25519", "X25519", "RSA", "RSA-PSS"), said
     * {@code expected} in messages ("verifies with an EC public key").
     *
     * @return a new {@code EVP_PKEY} the caller owns (frees with {@code EVP_PKEY_free})
     * @throws InvalidKeyException if the key is null, has no encoding libcrypto reads, is not valid
     *         (a point off its curve; {@code validation} refused it), or is of another type
     */
    public static MemorySegment read(PublicKey key, String user, String expected, List<String> types, Validation validation)
            throws InvalidKeyException {
        if (key == null) {
            throw new InvalidKeyException(user + " " + expected + ", not null");
        }
        byte[] encoded = encoding(key, user);
        MemorySegment pkey = parse(key, encoded, user);
        try {
            if (typeOf(pkey, types) == null) {
                throw new InvalidKeyException(user + " " + expected + ", not "
                        + key.getAlgorithm() + " key " + key.getClass().getName());
            }
            if (validation == Validation.PUBLIC_CHECK) {
                publicCheck(pkey, key, user);
            }
            MemorySegment read = pkey;
            pkey = null;
            return read;
        } finally {
            if (pkey != null) {
                LibCrypto.evpPkeyFree(pkey);
            }
        }
    }

    /** The first of the libcrypto types {@code types} that {@code pkey} is ({@code EVP_PKEY_is_a}), or null if none. */
    public static String typeOf(MemorySegment pkey, List<String> types) {
        try (Arena arena = Arena.ofConfined()) {
            for (String type : types) {
                if (LibCrypto.evpPkeyIsA(pkey, arena.allocateFrom(type)) == 1) {
                    return type;
                }
            }
            return null;
        }
    }

    private static void publicCheck(MemorySegment pkey, PublicKey key, String user) throws InvalidKeyException {
        MemorySegment ctx = LibCrypto.evpPkeyCtxNewFromPkey(MemorySegment.NULL, pkey, MemorySegment.NULL);
        if (ctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_PKEY_CTX_new_from_pkey", "could not create a context to check a public key");
        }
        try {
            if (LibCrypto.evpPkeyPublicCheck(ctx) != 1) {
                throw new InvalidKeyException(user + " refuses the " + key.getAlgorithm() + " public key: it is not valid: "
                        + OpenSslErrors.failure("EVP_PKEY_public_check", user).getMessage());
            }
        } finally {
            LibCrypto.evpPkeyCtxFree(ctx);
        }
    }

    /** The key's X.509 SubjectPublicKeyInfo: its own, or that of the JDK's translation of it. */
    private static byte[] encoding(PublicKey key, String user) throws InvalidKeyException {
        byte[] encoded = "X.509".equalsIgnoreCase(key.getFormat()) ? key.getEncoded() : null;
        if (encoded != null) {
            return encoded;
        }
        try {
            encoded = KeyFactory.getInstance(key.getAlgorithm()).translateKey(key).getEncoded();
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new InvalidKeyException(user + " cannot read the " + key.getAlgorithm() + " public key "
                    + key.getClass().getName() + ": it has no X.509 encoding and the JDK cannot translate it", e);
        }
        if (encoded == null) {
            throw new InvalidKeyException(user + " cannot read the " + key.getAlgorithm() + " public key "
                    + key.getClass().getName() + ": it has no X.509 encoding");
        }
        return encoded;
    }

    private static MemorySegment parse(PublicKey key, byte[] encoded, String user) throws InvalidKeyException {
        MemorySegment pkey = fastPath(key, encoded, user);
        return pkey.equals(MemorySegment.NULL) ? decode(key, encoded, user) : pkey;
    }

    /** The key by the fast path for its encoding, or NULL if it has none (package-private: the tests compare it with the decoder's). */
    static MemorySegment fastPath(PublicKey key, byte[] encoded, String user) throws InvalidKeyException {
        if (hasPrefix(encoded, P256_PREFIX, 65)) {
            return ecPoint("P-256", encoded, P256_PREFIX.length, user);
        }
        if (hasPrefix(encoded, X25519_PREFIX, 32)) {
            return raw("X25519", encoded, X25519_PREFIX.length, user);
        }
        if (hasPrefix(encoded, ED25519_PREFIX, 32)) {
            return raw("ED25519", encoded, ED25519_PREFIX.length, user);
        }
        if (hasPrefix(encoded, P384_PREFIX, 97)) {
            return ecPoint("P-384", encoded, P384_PREFIX.length, user);
        }
        if (hasPrefix(encoded, P521_PREFIX, 133)) {
            return ecPoint("P-521", encoded, P521_PREFIX.length, user);
        }
        if (key instanceof RSAPublicKey rsa && key.getAlgorithm().equals("RSA") && rsa.getParams() == null) {
            return rsa(rsa, user);
        }
        return MemorySegment.NULL;
    }

    private static boolean hasPrefix(byte[] encoded, byte[] prefix, int keyBytes) {
        return encoded.length == prefix.length + keyBytes && Arrays.equals(encoded, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** Any SubjectPublicKeyInfo, by OpenSSL's decoder. */
    static MemorySegment decode(PublicKey key, byte[] encoded, String user) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment der = arena.allocateFrom(JAVA_BYTE, encoded);
            MemorySegment cursor = arena.allocate(ADDRESS);
            cursor.set(ADDRESS, 0, der);
            MemorySegment pkey = LibCrypto.d2iPubkey(MemorySegment.NULL, cursor, encoded.length);
            if (pkey.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException(user + " cannot read the " + key.getAlgorithm() + " public key: "
                        + OpenSslErrors.failure("d2i_PUBKEY", "reading an X.509 public key").getMessage());
            }
            return pkey;
        }
    }

    /** An X25519 or Ed25519 key ({@code type}) from the 32 bytes that follow its fixed prefix (RFC 8410). */
    private static MemorySegment raw(String type, byte[] encoded, int offset, String user) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = tail(encoded, offset, arena);
            MemorySegment pkey = LibCrypto.evpPkeyNewRawPublicKeyEx(MemorySegment.NULL, arena.allocateFrom(type), MemorySegment.NULL, bytes, bytes.byteSize());
            if (pkey.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException(user + " cannot read the " + type + " public key: "
                        + OpenSslErrors.failure("EVP_PKEY_new_raw_public_key_ex", user).getMessage());
            }
            return pkey;
        }
    }

    /** An EC key on {@code group} from its uncompressed point (what follows {@code offset}); fromdata refuses a point off the curve. */
    private static MemorySegment ecPoint(String group, byte[] encoded, int offset, String user) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = OsslParams.of(arena, OsslParams.utf8("group", group, arena), OsslParams.octets("pub", tail(encoded, offset, arena)));
            return fromdata("EC", group, params, user, arena);
        }
    }

    /** The key's bytes after its SubjectPublicKeyInfo prefix, in {@code arena}. */
    private static MemorySegment tail(byte[] encoded, int offset, Arena arena) {
        MemorySegment bytes = arena.allocate(encoded.length - offset);
        MemorySegment.copy(encoded, offset, bytes, JAVA_BYTE, 0, encoded.length - offset);
        return bytes;
    }

    /** An RSA key from its modulus and public exponent (native-endian unsigned integers, as OSSL_PARAM wants them). */
    private static MemorySegment rsa(RSAPublicKey key, String user) throws InvalidKeyException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = OsslParams.of(arena,
                    OsslParams.unsignedInteger("n", nativeEndian(key.getModulus(), arena)),
                    OsslParams.unsignedInteger("e", nativeEndian(key.getPublicExponent(), arena)));
            return fromdata("RSA", "RSA", params, user, arena);
        }
    }

    private static MemorySegment nativeEndian(BigInteger value, Arena arena) throws InvalidKeyException {
        if (value.signum() <= 0) {
            throw new InvalidKeyException("an RSA public key's modulus and exponent are positive");
        }
        byte[] bigEndian = value.toByteArray();
        int start = bigEndian[0] == 0 ? 1 : 0;
        MemorySegment out = arena.allocate(bigEndian.length - start);
        for (int i = bigEndian.length - 1, j = 0; i >= start; i--, j++) { // x86-64 and aarch64: little-endian
            out.set(JAVA_BYTE, j, bigEndian[i]);
        }
        return out;
    }

    private static MemorySegment fromdata(String type, String what, MemorySegment params, String user, Arena arena) throws InvalidKeyException {
        MemorySegment ctx = LibCrypto.evpPkeyCtxNewFromName(MemorySegment.NULL, arena.allocateFrom(type), MemorySegment.NULL);
        if (ctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_PKEY_CTX_new_from_name", "could not create an " + type + " context");
        }
        try {
            MemorySegment pkey = arena.allocate(ADDRESS);
            if (LibCrypto.evpPkeyFromdataInit(ctx) != 1
                    || LibCrypto.evpPkeyFromdata(ctx, pkey, LibCrypto.EVP_PKEY_PUBLIC_KEY, params) != 1) {
                throw new InvalidKeyException(user + " cannot read the " + what + " public key: "
                        + OpenSslErrors.failure("EVP_PKEY_fromdata", user).getMessage());
            }
            return pkey.get(ADDRESS, 0);
        } finally {
            LibCrypto.evpPkeyCtxFree(ctx);
        }
    }
}
