// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.metrics.Metric;

import java.util.List;

/**
 * What libcrypto's secret-memory heap holds, and how it grew.
 *
 * @param arenaBytes     secret memory handed to the allocator (never given back)
 * @param inUseBytes     capacity of the blocks libcrypto holds now
 * @param unusedBytes    arena bytes not carved into blocks yet (freed blocks not counted): below the low
 *                       watermark the refill thread adds a chunk
 * @param foreignFrees   frees of pointers that were not live blocks of ours (foreign, or freed already,
 *                       also by two threads at once), left untouched; 0 unless something is wrong
 * @param failedMallocs  allocations that returned NULL (no room and no chunk to be had)
 * @param growRequests   times malloc's slow path asked Java for a chunk (the last resort)
 * @param refillsAhead   chunks the refill thread added before malloc had to ask
 * @param refillFailures refills ahead that could not take a chunk (e.g. the memlock limit, or the maximum)
 * @param maxBytes       the most secret memory the heap may hold ({@value CryptoHeap#MAX_BYTES_PROPERTY}); past
 *                       it, or past the memlock limit, allocations fail
 */
public record CryptoHeapStats(long arenaBytes, long inUseBytes, long unusedBytes, long foreignFrees, long failedMallocs,
                              long growRequests, long refillsAhead, long refillFailures, long maxBytes) {
    /** This reading as metrics. */
    public List<Metric> metrics() {
        return List.of(
                Metric.gauge("xpfo_crypto_heap_arena_bytes", "Secret memory handed to libcrypto's allocator", arenaBytes),
                Metric.gauge("xpfo_crypto_heap_in_use_bytes", "Capacity of the blocks libcrypto holds", inUseBytes),
                Metric.gauge("xpfo_crypto_heap_unused_bytes", "Arena bytes of libcrypto's allocator not carved into blocks yet",
                        unusedBytes),
                Metric.counter("xpfo_crypto_heap_foreign_frees_total", "Frees of pointers not from xpfo's allocator (left untouched)",
                        foreignFrees),
                Metric.counter("xpfo_crypto_heap_failed_mallocs_total", "libcrypto allocations that returned NULL", failedMallocs),
                Metric.counter("xpfo_crypto_heap_grow_requests_total", "Times libcrypto's allocator asked for another chunk",
                        growRequests),
                Metric.counter("xpfo_crypto_heap_refills_ahead_total", "Chunks added to libcrypto's heap before malloc had to ask",
                        refillsAhead),
                Metric.counter("xpfo_crypto_heap_refill_failures_total", "Refills ahead of need that could not take a chunk",
                        refillFailures),
                Metric.gauge("xpfo_crypto_heap_max_bytes", "The most secret memory libcrypto's allocator may hold", maxBytes));
    }
}
