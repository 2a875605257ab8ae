// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.span.GuardedSpan;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeErrors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Makes the pool's chunks. A chunk is mapped wherever the kernel likes, set up and populated there, and
 * only then moved into its place in a {@link GuardedSpan}: a failure on the way never leaves a gap in
 * the span's reservation that another thread's mapping could fall into.
 */
sealed interface ChunkSource permits SecretChunkSource, LockedChunkSource {

    /** What the chunks this source makes protect against. */
    Isolation isolation();

    /**
     * Maps {@code bytes} of fresh, zeroed memory, allocates every page, and returns its address; the
     * caller moves it into place with {@link #move}.
     *
     * @throws dev.xpfo.memory.MemlockLimitException past {@code RLIMIT_MEMLOCK}; nothing stays mapped
     */
    long make(long bytes);

    /** Reads a byte of every page, so the kernel allocates each one now rather than on first use. */
    static void touch(long address, long bytes) {
        MemorySegment memory = MemorySegment.ofAddress(address).reinterpret(bytes);
        int sink = 0;
        for (long offset = 0; offset < bytes; offset += GuardedSpan.PAGE) {
            sink += memory.get(ValueLayout.JAVA_BYTE, offset);
        }
        // Secret and locked memory is zero when new: a non-zero sum means a page was not fresh.
        if (sink != 0) {
            throw new IllegalStateException("a new chunk was not zeroed");
        }
    }

    /**
     * Moves {@code bytes} of mapped memory from {@code from} to {@code to}, replacing what was there (a
     * reservation): page-table entries move, pages stay populated and out of the direct map.
     */
    static void move(long from, long to, long bytes) {
        long moved = Libc.mremap(from, bytes, bytes, Libc.MREMAP_MAYMOVE | Libc.MREMAP_FIXED, to);
        if (moved == Libc.MAP_FAILED) {
            throw NativeErrors.mapping("mremap", Libc.errno(), bytes, "could not move a pool chunk of " + bytes
                    + " bytes into place");
        }
    }
}
