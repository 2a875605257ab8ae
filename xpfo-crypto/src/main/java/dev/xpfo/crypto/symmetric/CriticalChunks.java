// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import java.lang.foreign.MemorySegment;

/**
 * How the ciphers and MACs cut data for libcrypto's critical calls ({@code LibCrypto.*Critical}): pieces
 * of at most {@link #MAX_BYTES}, because a critical call holds off the GC while it runs (on a heap
 * array); a piece that is the whole segment is the segment itself, so a short message allocates nothing.
 */
final class CriticalChunks {
    /** The most bytes one critical call is given. */
    static final int MAX_BYTES = 64 * 1024;

    private CriticalChunks() {
    }

    /** How many bytes the piece at {@code done} of {@code total} has. */
    static int length(long total, long done) {
        return (int) Math.min(MAX_BYTES, total - done);
    }

    /** {@code segment}'s bytes {@code [offset, offset + length)}; the segment itself when that is all of it (no allocation). */
    static MemorySegment slice(MemorySegment segment, long offset, long length) {
        return offset == 0 && length == segment.byteSize() ? segment : segment.asSlice(offset, length);
    }
}
