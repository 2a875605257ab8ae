// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.stock;

import dev.xpfo.host.PhysicalMemory;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.memory.PageSize;

/**
 * How a {@link Stock} is sized.
 *
 * @param chunkBytes      the size of each secret memory file (a page multiple); grants are made of whole chunks
 * @param lowBytes        refill starts when less than this is ready (and populating)
 * @param targetBytes     how much populated memory to keep ready: refill runs from below {@code lowBytes} up to
 *                        this, so it works in bursts rather than after every take
 * @param maximumBytes    the most memory the pool's files may hold at once, ready, populating and
 *                        handed out but not yet returned together
 * @param populateThreads threads that populate chunks, in refill and for a take that finds too few ready
 */
public record StockSettings(long chunkBytes, long lowBytes, long targetBytes, long maximumBytes, int populateThreads) {
    public static final long DEFAULT_CHUNK = 2L << 20;
    public static final long DEFAULT_TARGET = 256L << 20;

    public StockSettings {
        if (chunkBytes <= 0 || chunkBytes % PageSize.BYTES != 0) {
            throw new InvalidSizeException("chunk size must be a positive multiple of the page size, not " + chunkBytes);
        }
        if (lowBytes < 0 || lowBytes > targetBytes || maximumBytes < chunkBytes || targetBytes > maximumBytes) {
            throw new InvalidSizeException("need 0 <= low (" + Bytes.format(lowBytes) + ") <= target ("
                    + Bytes.format(targetBytes) + ") <= maximum (" + Bytes.format(maximumBytes)
                    + ") and a maximum of at least one chunk");
        }
        if (populateThreads < 1) {
            throw new IllegalArgumentException("populate threads must be at least 1, not " + populateThreads);
        }
    }

    /** Chunks of {@code chunkBytes}, refill from below half the target up to it. */
    public static StockSettings of(long chunkBytes, long targetBytes, long maximumBytes, int populateThreads) {
        return new StockSettings(chunkBytes, targetBytes / 2, targetBytes, maximumBytes, populateThreads);
    }

    /**
     * 2 MiB chunks, 256 MiB ready (less on a machine with little memory) refilled from below 128 MiB,
     * a maximum of a quarter of the machine's memory, one populate thread per CPU.
     */
    public static StockSettings defaults() {
        long maximum = Math.max(DEFAULT_CHUNK, PhysicalMemory.totalBytes() / 4 / DEFAULT_CHUNK * DEFAULT_CHUNK);
        return of(DEFAULT_CHUNK, Math.min(DEFAULT_TARGET, maximum), maximum, Runtime.getRuntime().availableProcessors());
    }
}
