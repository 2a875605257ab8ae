// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeErrors;

/**
 * Chunks of ordinary anonymous memory, locked, kept out of core dumps and forked children: the
 * {@link Isolation#LOCKED_ONLY} fallback. Still in the kernel's direct map; used only when a pool was
 * explicitly allowed to fall back.
 */
final class LockedChunkSource implements ChunkSource {

    @Override
    public Isolation isolation() {
        return Isolation.LOCKED_ONLY;
    }

    @Override
    public long make(long bytes) {
        long address = Libc.mmap(0, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (address == Libc.MAP_FAILED) {
            throw NativeErrors.mapping("mmap", Libc.errno(), bytes, "could not map a pool chunk of " + bytes + " bytes");
        }
        try {
            advise(address, bytes, Libc.MADV_DONTDUMP, "madvise(MADV_DONTDUMP)");
            advise(address, bytes, Libc.MADV_DONTFORK, "madvise(MADV_DONTFORK)");
            // mlock faults every page in, so the chunk is populated as it is locked.
            if (Libc.mlock(address, bytes) != 0) {
                throw NativeErrors.locking(Libc.errno(), bytes, "could not lock a pool chunk of " + bytes + " bytes");
            }
            return address;
        } catch (RuntimeException e) {
            Libc.munmap(address, bytes);
            throw e;
        }
    }

    private static void advise(long address, long bytes, int advice, String call) {
        if (Libc.madvise(address, bytes, advice) != 0) {
            throw NativeErrors.call(call, Libc.errno(), "could not protect a pool chunk");
        }
    }
}
