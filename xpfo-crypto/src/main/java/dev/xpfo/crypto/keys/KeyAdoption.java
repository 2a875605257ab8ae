// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Turns a fresh {@code EVP_PKEY} (from generation or import) into the matching {@link XpfoPrivateKey},
 * taking ownership of it; its public half becomes a standard JDK key through its X.509 encoding.
 */
final class KeyAdoption {
    private static final MemorySegment FILE = Arena.global().allocateFrom("xpfo-crypto");

    private KeyAdoption() {
    }

    /** Adopts {@code pkey}: on success the key owns it, on failure it is freed. */
    static XpfoPrivateKey adopt(MemorySegment pkey) throws InvalidKeyException {
        try {
            if (isA(pkey, "EC")) {
                return new XpfoEcPrivateKey(pkey, (ECPublicKey) publicKey(pkey, "EC"));
            }
            if (isA(pkey, "ED25519")) {
                return new XpfoEdDsaPrivateKey(pkey, publicKey(pkey, "Ed25519"));
            }
            if (isA(pkey, "X25519")) {
                return new XpfoXdhPrivateKey(pkey, publicKey(pkey, "X25519"));
            }
            if (isA(pkey, "RSA")) {
                return new XpfoRsaPrivateKey(pkey, (RSAPublicKey) publicKey(pkey, "RSA"));
            }
            throw new InvalidKeyException("unsupported key type: XPFO keys are EC, Ed25519, X25519 or RSA");
        } catch (InvalidKeyException | RuntimeException e) {
            LibCrypto.evpPkeyFree(pkey);
            throw e;
        }
    }

    private static boolean isA(MemorySegment pkey, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return LibCrypto.evpPkeyIsA(pkey, arena.allocateFrom(name)) == 1;
        }
    }

    /** The key's SubjectPublicKeyInfo ({@code i2d_PUBKEY}) as a JDK public key of {@code jdkAlgorithm}. */
    private static PublicKey publicKey(MemorySegment pkey, String jdkAlgorithm) throws InvalidKeyException {
        byte[] spki;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int length = LibCrypto.i2dPubkey(pkey, out);
            if (length <= 0) {
                throw OpenSslErrors.failure("i2d_PUBKEY", "encoding the public key");
            }
            MemorySegment der = out.get(ADDRESS, 0).reinterpret(length);
            try {
                spki = der.toArray(JAVA_BYTE);
            } finally {
                LibCrypto.cryptoFree(der, FILE, 0);
            }
        }
        try {
            return KeyFactory.getInstance(jdkAlgorithm).generatePublic(new X509EncodedKeySpec(spki));
        } catch (GeneralSecurityException e) {
            throw new InvalidKeyException("the JDK does not accept the key's public half (" + jdkAlgorithm + "): " + e.getMessage(), e);
        }
    }
}
