// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

/**
 * A reading of a {@link PagePool}'s state and counters.
 *
 * @param isolation       what the pool's memory protects against
 * @param chunkBytes      the unit the pool populates and hands out
 * @param readyBytes      populated, wiped memory waiting to be taken
 * @param inUseBytes      memory handed out in regions not yet closed
 * @param peakInUseBytes  the most ever in use at once
 * @param populatingBytes memory being populated right now (refill, warm or a cold take)
 * @param maximumBytes    the most the pool will hold, ready and in use together
 * @param maximumSetBy    what set that maximum
 * @param takes           regions handed out
 * @param coldTakes       takes that found too little ready and populated on demand
 * @param chunksPopulated chunks populated (each one paid the direct-map removal once)
 * @param wipes           regions wiped on their return
 */
public record PoolStats(Isolation isolation, long chunkBytes, long readyBytes, long inUseBytes, long peakInUseBytes,
                        long populatingBytes, long maximumBytes, MaximumSource maximumSetBy, long takes,
                        long coldTakes, long chunksPopulated, long wipes) {

    /** Where the pool's maximum comes from. */
    public enum MaximumSource {
        /** {@link PoolSettings#maximumBytes()}. */
        SETTINGS,
        /** The automatic maximum: a quarter of physical memory. */
        PHYSICAL_MEMORY,
        /** The process's {@code RLIMIT_MEMLOCK}, lower than the other two and not lifted by {@code CAP_IPC_LOCK}. */
        MEMLOCK_LIMIT
    }
}
