// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.internal.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A public key read into a libcrypto {@code EVP_PKEY} to verify with: from its X.509
 * SubjectPublicKeyInfo ({@code d2i_PUBKEY}), or, for a key without that encoding (an
 * {@code ECPublicKey}, {@code EdECPublicKey} or {@code RSAPublicKey} built by hand), from the
 * JDK's {@link KeyFactory#translateKey translation} of it. Public material. The {@code EVP_PKEY} is
 * freed when this object becomes unreachable.
 */
final class VerificationKey implements NativeKey {
    private final MemorySegment pkey;
    private final int size;

    private VerificationKey(MemorySegment pkey) {
        this.pkey = pkey;
        this.size = LibCrypto.evpPkeyGetSize(pkey);
        SignContext.CLEANER.register(this, () -> LibCrypto.evpPkeyFree(pkey));
    }

    /**
     * Reads {@code key} for {@code algorithm}, which takes keys of the libcrypto types {@code types}
     * ("EC", "ED25519", "RSA", "RSA-PSS"), said {@code expected} in messages.
     *
     * @throws InvalidKeyException if the key has no encoding libcrypto reads, or is of another type
     */
    static VerificationKey read(PublicKey key, String algorithm, String expected, List<String> types) throws InvalidKeyException {
        if (key == null) {
            throw new InvalidKeyException("XPFO's " + algorithm + " verifies with " + expected + " public key, not null");
        }
        byte[] encoded = encoding(key, algorithm);
        MemorySegment parsed;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment der = arena.allocateFrom(JAVA_BYTE, encoded);
            MemorySegment cursor = arena.allocate(ADDRESS);
            cursor.set(ADDRESS, 0, der);
            parsed = LibCrypto.d2iPubkey(MemorySegment.NULL, cursor, encoded.length);
            if (parsed.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException("XPFO's " + algorithm + " cannot read the " + key.getAlgorithm() + " public key: "
                        + OpenSslErrors.failure("d2i_PUBKEY", "reading an X.509 public key").getMessage());
            }
            for (String type : types) {
                if (LibCrypto.evpPkeyIsA(parsed, arena.allocateFrom(type)) == 1) {
                    return new VerificationKey(VerificationKeyChecks.accepted(parsed, type, algorithm)); // the JDK's rules, or freed and refused
                }
            }
            LibCrypto.evpPkeyFree(parsed);
            throw new InvalidKeyException("XPFO's " + algorithm + " verifies with " + expected + " public key, not "
                    + key.getAlgorithm() + " key " + key.getClass().getName());
        }
    }

    private static byte[] encoding(PublicKey key, String algorithm) throws InvalidKeyException {
        byte[] encoded = "X.509".equalsIgnoreCase(key.getFormat()) ? key.getEncoded() : null;
        if (encoded != null) {
            return encoded;
        }
        try {
            encoded = KeyFactory.getInstance(key.getAlgorithm()).translateKey(key).getEncoded();
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new InvalidKeyException("XPFO's " + algorithm + " cannot read the " + key.getAlgorithm() + " public key "
                    + key.getClass().getName() + ": it has no X.509 encoding and the JDK cannot translate it", e);
        }
        if (encoded == null) {
            throw new InvalidKeyException("XPFO's " + algorithm + " cannot read the " + key.getAlgorithm() + " public key "
                    + key.getClass().getName() + ": it has no X.509 encoding");
        }
        return encoded;
    }

    /** The largest signature of this key in bytes (an RSA key's modulus length). */
    int size() {
        return size;
    }

    @Override
    public MemorySegment newReference() {
        try {
            if (LibCrypto.evpPkeyUpRef(pkey) != 1) {
                throw OpenSslErrors.failure("EVP_PKEY_up_ref", "taking a reference to the public key");
            }
            return pkey;
        } finally {
            Reference.reachabilityFence(this);
        }
    }
}
