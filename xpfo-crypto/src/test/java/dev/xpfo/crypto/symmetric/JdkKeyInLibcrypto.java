// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.PrivateKey;
import java.security.interfaces.XECPrivateKey;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * TEST ONLY: a JDK private key (EC or X25519) handed to libcrypto as a {@link NativeKey}, standing in
 * for the keys helper's XPFO keys so that key agreement can be checked against the JDK with keys
 * whose bytes the test knows. Every {@link #newReference()} decodes a new {@code EVP_PKEY}.
 */
final class JdkKeyInLibcrypto implements PrivateKey, NativeKey {
    private final PrivateKey jdkKey;

    JdkKeyInLibcrypto(PrivateKey jdkKey) {
        this.jdkKey = jdkKey;
    }

    @Override
    public MemorySegment newReference() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pkey;
            if (jdkKey instanceof XECPrivateKey xec) {
                byte[] scalar = xec.getScalar().orElseThrow();
                pkey = LibCrypto.evpPkeyNewRawPrivateKey(LibCrypto.EVP_PKEY_X25519, MemorySegment.NULL,
                        arena.allocateFrom(JAVA_BYTE, scalar), scalar.length);
            } else {
                byte[] der = jdkKey.getEncoded();
                MemorySegment cursor = arena.allocate(ADDRESS);
                cursor.set(ADDRESS, 0, arena.allocateFrom(JAVA_BYTE, der));
                pkey = LibCrypto.d2iPrivateKey(LibCrypto.EVP_PKEY_EC, MemorySegment.NULL, cursor, der.length);
            }
            if (pkey.equals(MemorySegment.NULL)) {
                throw OpenSslErrors.failure("d2i_PrivateKey/EVP_PKEY_new_raw_private_key", "test key");
            }
            return pkey;
        }
    }

    @Override
    public String getAlgorithm() {
        return jdkKey.getAlgorithm();
    }

    @Override
    public String getFormat() {
        return null;
    }

    @Override
    public byte[] getEncoded() {
        return null;
    }
}
