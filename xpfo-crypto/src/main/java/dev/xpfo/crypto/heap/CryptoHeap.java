// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

/**
 * Owner of libcrypto's heap: installs xpfo's native allocator (secret-memory chunks) with
 * {@code CRYPTO_set_mem_functions} before libcrypto's first allocation. PLACEHOLDER of the skeleton:
 * the heap helper replaces this class; nothing may use libcrypto until it does.
 */
public final class CryptoHeap {
    private CryptoHeap() {
    }

    /** Installs the allocator once, or refuses; never lets libcrypto run on the ordinary heap. */
    public static void ensureInstalled() {
        throw new IllegalStateException("libcrypto's secret-memory heap is not built yet");
    }
}
