// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;

/**
 * How a {@link PagePool} is shaped. Start from {@link #defaults()} and change what you need:
 *
 * <pre>{@code
 * PoolSettings settings = PoolSettings.defaults()
 *         .withWatermarks(64 * Bytes.MIB, 128 * Bytes.MIB)   // refill below 64 MiB ready, up to 128 MiB
 *         .withMaximumBytes(Bytes.GIB);
 * }</pre>
 *
 * @param chunkBytes         the unit the pool populates and hands out, a multiple of the page size
 *                           (default 2 MiB); a take is rounded up to whole chunks
 * @param lowWatermarkBytes  when ready memory falls below this, the background refill starts
 *                           (0, the default, turns background refill off)
 * @param highWatermarkBytes the background refill stops once this much is ready
 * @param maximumBytes       the most the pool ever holds, ready and in use together; 0 (the default)
 *                           means a quarter of physical memory, or the memlock limit if that is lower
 * @param populateThreads    how many threads populate chunks at once when warming or refilling
 * @param policy             what to do if the kernel cannot remove memory from its direct map
 */
public record PoolSettings(long chunkBytes, long lowWatermarkBytes, long highWatermarkBytes, long maximumBytes,
                           int populateThreads, IsolationPolicy policy) {
    public static final long DEFAULT_CHUNK_BYTES = 2 * Bytes.MIB;

    public PoolSettings {
        if (chunkBytes <= 0) {
            throw new InvalidSizeException("a pool chunk needs a positive size, not " + chunkBytes);
        }
        if (lowWatermarkBytes < 0 || highWatermarkBytes < lowWatermarkBytes) {
            throw new InvalidSizeException("watermarks need 0 <= low <= high, not low " + lowWatermarkBytes
                    + " and high " + highWatermarkBytes);
        }
        if (maximumBytes < 0) {
            throw new InvalidSizeException("a pool maximum cannot be negative: " + maximumBytes);
        }
        if (populateThreads < 1) {
            throw new IllegalArgumentException("populating needs at least one thread, not " + populateThreads);
        }
        if (policy == null) {
            throw new IllegalArgumentException("an isolation policy is required");
        }
    }

    /** 2 MiB chunks, no background refill, automatic maximum, up to 4 populating threads, direct-map removal required. */
    public static PoolSettings defaults() {
        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        return new PoolSettings(DEFAULT_CHUNK_BYTES, 0, 0, 0, threads, IsolationPolicy.REQUIRE_DIRECT_MAP_REMOVAL);
    }

    public PoolSettings withChunkBytes(long bytes) {
        return new PoolSettings(bytes, lowWatermarkBytes, highWatermarkBytes, maximumBytes, populateThreads, policy);
    }

    public PoolSettings withWatermarks(long low, long high) {
        return new PoolSettings(chunkBytes, low, high, maximumBytes, populateThreads, policy);
    }

    public PoolSettings withMaximumBytes(long bytes) {
        return new PoolSettings(chunkBytes, lowWatermarkBytes, highWatermarkBytes, bytes, populateThreads, policy);
    }

    public PoolSettings withPopulateThreads(int threads) {
        return new PoolSettings(chunkBytes, lowWatermarkBytes, highWatermarkBytes, maximumBytes, threads, policy);
    }

    public PoolSettings withPolicy(IsolationPolicy isolationPolicy) {
        return new PoolSettings(chunkBytes, lowWatermarkBytes, highWatermarkBytes, maximumBytes, populateThreads,
                isolationPolicy);
    }
}
