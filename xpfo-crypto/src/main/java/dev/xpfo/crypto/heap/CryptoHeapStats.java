// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

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
}
