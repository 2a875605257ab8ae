// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * Told how far populating has come. Calls may come from the populating threads, one at a time
 * (never concurrently), with {@code done} never decreasing.
 */
@FunctionalInterface
public interface PopulateProgress {
    /** Reports nothing. */
    PopulateProgress NONE = (done, total) -> { };

    /**
     * @param done  bytes populated so far
     * @param total bytes to populate in all
     */
    void populated(long done, long total);
}
