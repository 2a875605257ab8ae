// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A small file (a private key) read with {@code read(2)} straight into secret memory, never into a
 * {@code byte[]} or other ordinary memory; its page cache is then dropped ({@code
 * posix_fadvise(POSIX_FADV_DONTNEED)}, advice the kernel applies to clean pages). Closing wipes the
 * contents and unmaps them. The file's protection at rest (permissions, disk encryption) is the
 * user's: this only keeps the running process from copying it into the direct map.
 */
public final class SecretFileContents implements AutoCloseable {
    private final XpfoFile file;
    private final Mapping mapping;
    private final long length;

    private SecretFileContents(XpfoFile file, Mapping mapping, long length) {
        this.file = file;
        this.mapping = mapping;
        this.length = length;
    }

    /**
     * Reads {@code path} whole into a fresh secret-memory file.
     *
     * @param maximumBytes larger files are refused ({@link InvalidSizeException})
     * @throws NativeCallException naming {@code open}, {@code read} or {@code posix_fadvise} and the errno
     * @throws SecretMemoryUnavailableException if the kernel offers no secret memory (never a fallback)
     */
    public static SecretFileContents read(Path path, long maximumBytes) {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = Libc.open(arena.allocateFrom(path.toString()), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        }
        if (fd < 0) {
            throw NativeErrors.call("open", Libc.errno(), "opening " + path + " to read it into secret memory");
        }
        try {
            XpfoFile file = XpfoFile.create(maximumBytes + 1);
            Mapping mapping = null;
            try {
                mapping = file.map();
                long length = readAll(fd, mapping.segment(), maximumBytes, path);
                int error = Libc.posixFadvise(fd, 0, 0, Libc.POSIX_FADV_DONTNEED);
                if (error != 0 && error != Errno.ESPIPE) { // a pipe has no page cache
                    throw NativeErrors.call("posix_fadvise", error, "dropping the page cache of " + path);
                }
                return new SecretFileContents(file, mapping, length);
            } catch (RuntimeException e) {
                if (mapping != null) {
                    mapping.segment().fill((byte) 0);
                    mapping.close();
                }
                file.close();
                throw e;
            }
        } finally {
            Libc.close(fd);
        }
    }

    private static long readAll(int fd, MemorySegment memory, long maximumBytes, Path path) {
        long filled = 0;
        while (true) {
            long room = maximumBytes + 1 - filled;
            long got = Libc.read(fd, memory.asSlice(filled, room), room);
            if (got < 0) {
                int errno = Libc.errno();
                if (errno == Errno.EINTR) {
                    continue;
                }
                throw NativeErrors.call("read", errno, "reading " + path + " into secret memory");
            }
            if (got == 0) {
                return filled;
            }
            filled += got;
            if (filled > maximumBytes) {
                throw new InvalidSizeException(path + " is larger than " + maximumBytes + " bytes");
            }
        }
    }

    /** The file's bytes, in secret memory; unusable after {@link #close()}. */
    public MemorySegment contents() {
        return mapping.segment().asSlice(0, length);
    }

    /** Wipes the contents and releases the memory. */
    @Override
    public void close() {
        if (mapping.isOpen()) {
            mapping.segment().fill((byte) 0);
            mapping.close();
        }
        file.close();
    }
}
