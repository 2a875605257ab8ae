// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.metrics.Metric;

import java.util.List;

/**
 * What libcrypto's secret-memory heap holds.
 *
 * @param arenaBytes    secret memory handed to the allocator (never given back)
 * @param inUseBytes    capacity of the blocks libcrypto holds now
 * @param foreignFrees  frees of pointers that were not ours (left untouched); 0 unless something is wrong
 * @param failedMallocs allocations that returned NULL (no room and no chunk to be had)
 * @param growRequests  times malloc asked Java for another chunk
 */
public record CryptoHeapStats(long arenaBytes, long inUseBytes, long foreignFrees, long failedMallocs, long growRequests) {
    /** This reading as metrics. */
    public List<Metric> metrics() {
        return List.of(
                Metric.gauge("xpfo_crypto_heap_arena_bytes", "Secret memory handed to libcrypto's allocator", arenaBytes),
                Metric.gauge("xpfo_crypto_heap_in_use_bytes", "Capacity of the blocks libcrypto holds", inUseBytes),
                Metric.counter("xpfo_crypto_heap_foreign_frees_total", "Frees of pointers not from xpfo's allocator (left untouched)",
                        foreignFrees),
                Metric.counter("xpfo_crypto_heap_failed_mallocs_total", "libcrypto allocations that returned NULL", failedMallocs),
                Metric.counter("xpfo_crypto_heap_grow_requests_total", "Times libcrypto's allocator asked for another chunk",
                        growRequests));
    }
}
