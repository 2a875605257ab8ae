// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.crypto.pkey.PublicKeyImport;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.security.InvalidKeyException;
import java.security.PublicKey;
import java.util.List;

/**
 * A public key to verify with, read into a libcrypto {@code EVP_PKEY} by {@link PublicKeyImport} (the
 * import's checks: a verifier needs no more) and kept for as long as the signature holds this object,
 * so a key used for many verifications is read once. Public material. The {@code EVP_PKEY} is freed
 * when this object becomes unreachable.
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
     * @throws InvalidKeyException if the key has no encoding libcrypto reads, is of another type, or breaks
     *         a rule the JDK has for such keys ({@link VerificationKeyChecks})
     */
    static VerificationKey read(PublicKey key, String algorithm, String expected, List<String> types) throws InvalidKeyException {
        MemorySegment parsed = PublicKeyImport.read(key, "XPFO's " + algorithm, "verifies with " + expected + " public key",
                types, PublicKeyImport.Validation.IMPORT); // of one of the types, or refused
        // The JDK's rules for the type it is, or freed and refused.
        return new VerificationKey(VerificationKeyChecks.accepted(parsed, PublicKeyImport.typeOf(parsed, types), algorithm));
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
