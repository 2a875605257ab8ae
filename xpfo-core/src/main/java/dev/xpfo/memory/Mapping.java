// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One {@code mmap}ed range and its lifetime. The memory is reached only through {@link #segment()},
 * which is bounds-checked and becomes unusable, from every thread, the moment the mapping is closed;
 * closing unmaps it. A mapping outlives the file it came from: closing the file does not unmap it.
 */
public final class Mapping implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;
    private final String description;

    private Mapping(long address, long length, String description) {
        this.arena = Arena.ofShared();
        // The cleanup runs exactly once, when the arena closes; munmap of a range we own cannot fail
        // short of a kernel bug, and there is nobody to report to from a cleanup action.
        this.segment = MemorySegment.ofAddress(address)
                .reinterpret(length, arena, unmapped -> Libc.munmap(address, length));
        this.description = description;
    }

    /**
     * Maps {@code length} bytes of a secret memory file read-write, {@code MAP_SHARED}, and marks the
     * range {@code MADV_DONTFORK} so a forked child never sees it.
     *
     * @throws MemlockLimitException if the mapping would exceed {@code RLIMIT_MEMLOCK} ({@code EAGAIN})
     * @throws NativeCallException   for any other refusal, naming the call and errno
     */
    static Mapping ofSecretFile(int fd, long length) {
        long address = Libc.mmap(0, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        if (address == Libc.MAP_FAILED) {
            throw NativeErrors.mapping("mmap", Libc.errno(), length, "could not map " + length + " bytes of secret memory");
        }
        Mapping mapping = new Mapping(address, length, "secret memory mapping of " + Bytes.format(length));
        if (Libc.madvise(address, length, Libc.MADV_DONTFORK) != 0) {
            int errno = Libc.errno();
            mapping.close();
            throw NativeErrors.call("madvise(MADV_DONTFORK)", errno,
                    "could not keep the secret mapping out of forked children");
        }
        return mapping;
    }

    /**
     * Maps {@code length} bytes of private anonymous memory, read-write. This is ordinary memory that
     * the kernel's direct map still covers; xpfo uses it for baselines and controls, never for secrets.
     */
    public static Mapping anonymous(long length) {
        if (length <= 0) {
            throw new InvalidSizeException("a mapping needs a positive length, not " + length);
        }
        long address = Libc.mmap(0, length, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (address == Libc.MAP_FAILED) {
            throw NativeErrors.mapping("mmap", Libc.errno(), length, "could not map " + length + " bytes of anonymous memory");
        }
        return new Mapping(address, length, "anonymous mapping of " + Bytes.format(length));
    }

    /** The mapped memory. Its address is the mapping's; every access is bounds- and lifetime-checked. */
    public MemorySegment segment() {
        if (!arena.scope().isAlive()) {
            throw new XpfoClosedException(description);
        }
        return segment;
    }

    /** The mapping's length in bytes. */
    public long length() {
        return segment.byteSize();
    }

    /** How many of the mapping's pages are resident now, by {@code mincore(2)}. */
    public long residentPages() {
        long pages = PageSize.pagesIn(length());
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment vector = scratch.allocate(pages);
            if (Libc.mincore(segment().address(), length(), vector) != 0) {
                throw NativeErrors.call("mincore", Libc.errno(), "could not read residency of " + description);
            }
            long resident = 0;
            for (long i = 0; i < pages; i++) {
                resident += vector.get(ValueLayout.JAVA_BYTE, i) & 1;
            }
            return resident;
        }
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /**
     * Unmaps the memory. Idempotent.
     *
     * @throws IllegalStateException if another thread is inside a scoped access to the segment
     */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            try {
                arena.close();
            } catch (IllegalStateException alreadyClosed) {
                if (arena.scope().isAlive()) {
                    throw alreadyClosed;
                }
            }
        }
    }

    @Override
    public String toString() {
        return description + (isOpen() ? "" : " (closed)");
    }
}
