// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.stock;

/**
 * A reading of a {@link Stock}. Every chunk populated is counted once, as warmed or as cold:
 * {@code chunksPopulated == warmedChunks + coldChunks}.
 *
 * @param chunkBytes            size of each file
 * @param readyBytes            populated files waiting to be taken; never more than the target
 * @param targetBytes           what refill keeps ready
 * @param maximumBytes          the ceiling on ready, populating and handed-out memory together
 * @param populatingBytes       files being populated now (refill and takes)
 * @param handedOutBytes        taken and not yet {@linkplain Stock#returned returned}
 * @param takes                 takes served
 * @param coldChunks            chunks populated on demand, while a take's caller waited, whether the take then
 *                              succeeded or failed (past its deadline, or the kernel refused a chunk)
 * @param chunksPopulated       files populated since the pool opened
 * @param refillBytesPerSecond  populated by warm-up and refill over the last ten seconds, per second
 * @param warmedChunks          chunks populated ahead of demand, by warm-up and refill
 * @param trimmedChunks         ready files closed because the stock would have passed its target: what a
 *                              failed take brought back beyond it
 * @param refilling             refill is on its way to the target: the stock fell below its low watermark,
 *                              or a warm asked; off between bursts
 */
public record StockStats(long chunkBytes, long readyBytes, long targetBytes, long maximumBytes,
                         long populatingBytes, long handedOutBytes, long takes, long coldChunks,
                         long chunksPopulated, long refillBytesPerSecond, long warmedChunks, long trimmedChunks,
                         boolean refilling) {
}
