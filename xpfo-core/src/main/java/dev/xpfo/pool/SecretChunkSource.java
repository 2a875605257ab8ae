// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeErrors;
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
    public long make(long bytes) {
        long address;
        try (XpfoFile file = XpfoFile.create(bytes)) {
            address = Libc.mmap(0, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, file.fd(), 0);
            if (address == Libc.MAP_FAILED) {
                throw NativeErrors.mapping("mmap", Libc.errno(), bytes, "could not map a pool chunk of " + bytes
                        + " bytes of secret memory");
            }
        }
        try {
            if (Libc.madvise(address, bytes, Libc.MADV_DONTFORK) != 0) {
                throw NativeErrors.call("madvise(MADV_DONTFORK)", Libc.errno(),
                        "could not keep a pool chunk out of forked children");
            }
            ChunkSource.touch(address, bytes);
            return address;
        } catch (RuntimeException e) {
            Libc.munmap(address, bytes);
            throw e;
        }
    }
}
