package dev.xpfo.pool;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoFile;

/**
 * Chunks of secret memory: one {@code memfd_secret} file per chunk, mapped {@code MAP_SHARED} and
 * {@code MADV_DONTFORK}, then touched so every page leaves the direct map now. The descriptor is
 * closed once mapped: the mapping keeps the file alive, and a pool of many chunks must not use up the
 * descriptor limit.
 */
final class SecretChunkSource implements ChunkSource {

    @Override
    public Isolation isolation() {
        return Isolation.DIRECT_MAP_REMOVED;
    }

    @Override
    public void fill(GuardedSpan span, long address, long bytes) {
        try (XpfoFile file = XpfoFile.create(bytes)) {
            long mapped = Libc.mmap(address, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_FIXED,
                    file.fd(), 0);
            if (mapped == Libc.MAP_FAILED) {
                int errno = Libc.errno();
                span.clear(address, bytes);
                throw errno == Errno.EAGAIN ? MemlockLimitException.refused(bytes)
                        : new NativeCallException("mmap", errno, "could not map a pool chunk of " + bytes
                        + " bytes of secret memory", "");
            }
        }
        if (Libc.madvise(address, bytes, Libc.MADV_DONTFORK) != 0) {
            int errno = Libc.errno();
            span.clear(address, bytes);
            throw new NativeCallException("madvise(MADV_DONTFORK)", errno,
                    "could not keep a pool chunk out of forked children", "");
        }
        ChunkSource.touch(address, bytes);
    }
}
