// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * Zeroed bytes in libcrypto's own heap ({@code CRYPTO_zalloc}), which xpfo's allocator serves from secret
 * memory: key material and the plaintext a cipher holds back are kept here, never in a {@code byte[]}.
 * {@link #close} wipes and frees them ({@code CRYPTO_clear_free}); a buffer nobody closed is wiped and
 * freed when it becomes unreachable. Not thread-safe: its owner serialises use and close.
 */
final class CryptoBuffer implements AutoCloseable {
    static final Cleaner CLEANER = Cleaner.create();
    private static final MemorySegment FILE = Arena.global().allocateFrom("xpfo-crypto");

    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private final MemorySegment bytes;

    private CryptoBuffer(MemorySegment address, long size) {
        this.release = new Release(address.address(), size);
        this.cleanable = CLEANER.register(this, release);
        this.bytes = address.reinterpret(size);
    }

    /** {@code size} (&gt; 0) bytes from libcrypto's heap. */
    static CryptoBuffer allocate(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("a libcrypto buffer needs at least one byte, not " + size);
        }
        MemorySegment address = LibCrypto.cryptoZalloc(size, FILE, 0);
        if (address.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("CRYPTO_zalloc", "could not allocate " + size + " bytes in libcrypto's heap");
        }
        return new CryptoBuffer(address, size);
    }

    /** The bytes; invalid (use after free) once closed, so only the owner may hold it. */
    MemorySegment segment() {
        if (release.freed) {
            throw new IllegalStateException("the buffer has been wiped and freed");
        }
        return bytes;
    }

    long size() {
        return bytes.byteSize();
    }

    boolean isClosed() {
        return release.freed;
    }

    /** Wipes and frees the bytes; idempotent. */
    @Override
    public void close() {
        cleanable.clean();
    }

    /** The free, kept apart from the buffer so that the cleaner does not keep the buffer reachable. */
    private static final class Release implements Runnable {
        private final long address;
        private final long size;
        private volatile boolean freed;

        Release(long address, long size) {
            this.address = address;
            this.size = size;
        }

        @Override
        public void run() {
            freed = true;
            LibCrypto.cryptoClearFree(MemorySegment.ofAddress(address), size, FILE, 0);
        }
    }
}
