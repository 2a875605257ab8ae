// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.security.InvalidKeyException;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The JDK's rules for a public key to verify with, applied to the key libcrypto decoded. libcrypto's
 * {@code d2i_PUBKEY} reads keys the JDK refuses, and some of them verify forgeries: an EC key with
 * explicit domain parameters whose generator is someone's public point (CVE-2020-0601, "CurveBall"),
 * an RSA key with exponent 1 (the padded hash is its own signature), an Ed25519 key with a
 * non-canonical y (y = p + 1 is the identity: R = identity, S = 0 verifies every message). The checks
 * read what libcrypto decoded (its parameters), not our own parse of the encoding, so the key checked
 * is the key verified with.
 *
 * <ul>
 *   <li>EC: named curves only, P-256, P-384 or P-521 (SunEC's {@code ECParameters} refuses explicit
 *       parameters, even when they equal a named curve's: "Only named ECParameters supported"), and
 *       the point on its curve and not at infinity ({@code EVP_PKEY_public_check_quick}; the curves
 *       have cofactor 1, so that is membership of the group).</li>
 *   <li>RSA and RSA-PSS: {@code RSAKeyFactory}'s and {@code RSAPublicKeyImpl}'s limits: modulus 512 to
 *       16384 bits (rounded up to bytes as the JDK counts them), exponent at least 3 and smaller than
 *       the modulus, at most 64 bits above a 3072-bit modulus; and, stricter than the JDK, odd (an even
 *       exponent is no RSA key: it has no inverse modulo the even λ(n)).</li>
 *   <li>Ed25519: what SunEC's {@code initVerify} checks (RFC 8032 §5.1.3): y &lt; p and a point of the
 *       curve ({@link Ed25519Points}). Small-order points are accepted, as the JDK accepts them.</li>
 * </ul>
 * Public data; a refusal is an {@link InvalidKeyException} at {@code initVerify}, as the JDK's.
 */
final class VerificationKeyChecks {
    private static final Set<String> CURVES = Set.of("prime256v1", "secp384r1", "secp521r1");
    private static final int MIN_MODULUS_BITS = 512;
    private static final int MAX_MODULUS_BITS = 16384;
    private static final int RESTRICTED_EXPONENT_ABOVE_BITS = 3072;
    private static final int RESTRICTED_EXPONENT_BITS = 64;
    private static final BigInteger SMALLEST_EXPONENT = BigInteger.valueOf(3);
    private static final int TEXT_BYTES = 64;

    private VerificationKeyChecks() {
    }

    /**
     * Returns {@code pkey}, a key of libcrypto type {@code type} ("EC", "ED25519", "RSA", "RSA-PSS")
     * that {@code algorithm} is about to verify with, if the JDK would verify with it; otherwise frees
     * it and throws.
     *
     * @throws InvalidKeyException naming the rule the key breaks
     */
    static MemorySegment accepted(MemorySegment pkey, String type, String algorithm) throws InvalidKeyException {
        String refusal;
        try (Arena arena = Arena.ofConfined()) {
            refusal = switch (type) {
                case "EC" -> whyNotEc(pkey, arena);
                case "ED25519" -> whyNotEd25519(pkey, arena);
                case "RSA", "RSA-PSS" -> whyNotRsa(pkey, arena);
                default -> "XPFO has no rules for " + type + " public keys";
            };
        } catch (RuntimeException | Error e) {
            LibCrypto.evpPkeyFree(pkey);
            throw e;
        }
        if (refusal == null) {
            return pkey;
        }
        LibCrypto.evpPkeyFree(pkey);
        OpenSslErrors.drain(); // a failed check leaves libcrypto's reasons; the refusal says ours
        throw new InvalidKeyException("XPFO's " + algorithm + " refuses the " + type + " public key: " + refusal);
    }

    private static String whyNotEc(MemorySegment pkey, Arena arena) {
        String encoding = text(pkey, "encoding", arena);
        if (!"named_curve".equals(encoding)) {
            return "its domain parameters are " + (encoding == null ? "unknown" : encoding)
                    + ", not a named curve (the JDK takes named curves only; explicit parameters can carry another"
                    + " generator, CVE-2020-0601)";
        }
        String group = text(pkey, "group", arena);
        if (group == null || !CURVES.contains(group)) {
            return "curve " + group + " is not P-256, P-384 or P-521";
        }
        MemorySegment pctx = LibCrypto.evpPkeyCtxNewFromPkey(MemorySegment.NULL, pkey, MemorySegment.NULL);
        if (pctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_PKEY_CTX_new_from_pkey", "checking an EC public key");
        }
        try {
            return LibCrypto.evpPkeyPublicCheckQuick(pctx) == 1 ? null : "its point is not on " + group + " or is at infinity";
        } finally {
            LibCrypto.evpPkeyCtxFree(pctx);
        }
    }

    private static String whyNotEd25519(MemorySegment pkey, Arena arena) {
        MemorySegment point = arena.allocate(32);
        MemorySegment length = arena.allocate(JAVA_LONG);
        length.set(JAVA_LONG, 0, 32);
        if (LibCrypto.evpPkeyGetRawPublicKey(pkey, point, length) != 1 || length.get(JAVA_LONG, 0) != 32) {
            throw OpenSslErrors.failure("EVP_PKEY_get_raw_public_key", "reading an Ed25519 public key's point");
        }
        return Ed25519Points.whyNotAPoint(point.toArray(JAVA_BYTE), 0);
    }

    private static String whyNotRsa(MemorySegment pkey, Arena arena) {
        BigInteger modulus = number(pkey, "n", arena);
        BigInteger exponent = number(pkey, "e", arena);
        int modulusBits = (modulus.bitLength() + 7) & ~7; // as RSAKeyFactory.checkRSAProviderKeyLengths counts
        if (modulusBits < MIN_MODULUS_BITS) {
            return "RSA keys must be at least " + MIN_MODULUS_BITS + " bits long";
        }
        if (modulusBits > MAX_MODULUS_BITS) {
            return "RSA keys must be no longer than " + MAX_MODULUS_BITS + " bits";
        }
        if (modulusBits > RESTRICTED_EXPONENT_ABOVE_BITS && exponent.bitLength() > RESTRICTED_EXPONENT_BITS) {
            return "RSA exponents can be no longer than " + RESTRICTED_EXPONENT_BITS + " bits if modulus is greater than "
                    + RESTRICTED_EXPONENT_ABOVE_BITS + " bits";
        }
        if (exponent.compareTo(SMALLEST_EXPONENT) < 0) {
            return "exponent is smaller than 3";
        }
        if (exponent.compareTo(modulus) >= 0) {
            return "exponent is larger than modulus";
        }
        if (!exponent.testBit(0)) {
            return "exponent is even";
        }
        return null;
    }

    /** A text parameter of the key, or null if it has none. */
    private static String text(MemorySegment pkey, String name, Arena arena) {
        MemorySegment buffer = arena.allocate(TEXT_BYTES);
        MemorySegment length = arena.allocate(JAVA_LONG);
        if (LibCrypto.evpPkeyGetUtf8StringParam(pkey, arena.allocateFrom(name), buffer, TEXT_BYTES, length) != 1) {
            OpenSslErrors.drain();
            return null;
        }
        return buffer.getString(0);
    }

    private static BigInteger number(MemorySegment pkey, String name, Arena arena) {
        MemorySegment out = arena.allocate(ADDRESS);
        if (LibCrypto.evpPkeyGetBnParam(pkey, arena.allocateFrom(name), out) != 1) {
            throw OpenSslErrors.failure("EVP_PKEY_get_bn_param", "reading an RSA public key's " + name);
        }
        MemorySegment bn = out.get(ADDRESS, 0);
        try {
            MemorySegment magnitude = arena.allocate(Math.max(1, (LibCrypto.bnNumBits(bn) + 7) / 8));
            int written = LibCrypto.bnBn2bin(bn, magnitude);
            return new BigInteger(1, magnitude.asSlice(0, written).toArray(JAVA_BYTE));
        } finally {
            LibCrypto.bnFree(bn);
        }
    }
}
