package dev.xpfo.pool;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Makes the pool's chunks: maps new memory at an address inside a {@link GuardedSpan} and faults it all in. */
sealed interface ChunkSource permits SecretChunkSource, LockedChunkSource {

    /** What the chunks this source makes protect against. */
    Isolation isolation();

    /**
     * Maps {@code bytes} of fresh, zeroed memory over the reservation at {@code address}
     * ({@code MAP_FIXED}) and allocates every page now.
     *
     * @throws dev.xpfo.memory.MemlockLimitException past {@code RLIMIT_MEMLOCK}; the reservation is restored
     */
    void fill(GuardedSpan span, long address, long bytes);

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
}
