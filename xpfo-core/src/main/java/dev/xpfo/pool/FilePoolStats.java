package dev.xpfo.pool;

/**
 * A reading of a {@link FilePool}.
 *
 * @param chunkBytes            size of each file
 * @param readyBytes            populated files waiting to be taken
 * @param targetBytes           what refill keeps ready
 * @param maximumBytes          the ceiling on ready, populating and handed-out memory together
 * @param populatingBytes       files being populated now (refill and takes)
 * @param handedOutBytes        taken and not yet {@linkplain FilePool#returned returned}
 * @param takes                 takes served
 * @param coldChunks            chunks a take had to populate while its caller waited
 * @param chunksPopulated       files populated since the pool opened
 * @param refillBytesPerSecond  populated by warm-up and refill over the last ten seconds, per second
 */
public record FilePoolStats(long chunkBytes, long readyBytes, long targetBytes, long maximumBytes,
                            long populatingBytes, long handedOutBytes, long takes, long coldChunks,
                            long chunksPopulated, long refillBytesPerSecond) {
}
