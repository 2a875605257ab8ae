// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The byte strings a private key consists of, as a memory scraper would look for them, read from an
 * unencrypted PKCS#8 PEM file with the JDK.
 *
 * <ul>
 *   <li>EC: the private scalar, 32 bytes big-endian as in the file, and byte-reversed;</li>
 *   <li>Ed25519: the 32-byte seed (libcrypto keeps it as the same bytes);</li>
 *   <li>RSA: the primes p and q and the private exponent d, each big-endian (without leading zero
 *       bytes, as in DER after its sign byte) and byte-reversed.</li>
 * </ul>
 * Byte-reversed is how OpenSSL's {@code BIGNUM} holds a number on x86-64: an array of 64-bit limbs,
 * least significant limb first, each limb little-endian, so the whole array is the number's bytes from
 * the least significant one (the most significant limb padded with zero bytes after them).
 */
public final class KeyMaterial {
    private KeyMaterial() {
    }

    /**
     * The key's secret byte strings by name ({@code PREFIX.scalar}, {@code PREFIX.scalar-le},
     * {@code PREFIX.seed}, {@code PREFIX.p}, {@code PREFIX.p-le}, ...), for {@code MemorySearch}.
     */
    public static Map<String, byte[]> secrets(String prefix, Path pemKey) throws Exception {
        PrivateKey key = parse(pemKey);
        Map<String, byte[]> secrets = new LinkedHashMap<>();
        switch (key) {
            case ECPrivateKey ec -> bothOrders(secrets, prefix + ".scalar", fixed(ec.getS(), 32));
            case EdECPrivateKey ed -> secrets.put(prefix + ".seed", ed.getBytes().orElseThrow());
            case RSAPrivateCrtKey rsa -> {
                bothOrders(secrets, prefix + ".p", magnitude(rsa.getPrimeP()));
                bothOrders(secrets, prefix + ".q", magnitude(rsa.getPrimeQ()));
                bothOrders(secrets, prefix + ".d", magnitude(rsa.getPrivateExponent()));
            }
            default -> throw new IllegalArgumentException("not an EC, Ed25519 or RSA key: " + key.getAlgorithm());
        }
        return secrets;
    }

    private static PrivateKey parse(Path pemKey) throws Exception {
        String body = Files.readString(pemKey).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body));
        Exception last = null;
        for (String algorithm : new String[] {"EC", "Ed25519", "RSA"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (java.security.spec.InvalidKeySpecException e) {
                last = e;
            }
        }
        throw new IllegalArgumentException("no PKCS#8 EC, Ed25519 or RSA key in " + pemKey, last);
    }

    private static void bothOrders(Map<String, byte[]> secrets, String name, byte[] bigEndian) {
        secrets.put(name, bigEndian);
        secrets.put(name + "-le", SelfSignedFiles.reversed(bigEndian));
    }

    /** The unsigned big-endian bytes without leading zeros. */
    private static byte[] magnitude(BigInteger value) {
        byte[] bytes = value.toByteArray();
        int skip = 0;
        while (skip < bytes.length - 1 && bytes[skip] == 0) {
            skip++;
        }
        return Arrays.copyOfRange(bytes, skip, bytes.length);
    }

    /** The unsigned big-endian bytes in exactly {@code length} bytes, as an EC scalar is written. */
    private static byte[] fixed(BigInteger value, int length) {
        byte[] bytes = magnitude(value);
        byte[] out = new byte[length];
        System.arraycopy(bytes, 0, out, length - bytes.length, bytes.length);
        return out;
    }
}
