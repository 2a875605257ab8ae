package dev.xpfo.pool;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeCallException;

/**
 * A reservation of address space with an anonymous {@code PROT_NONE} guard page at each end: the
 * chunks of memory placed inside it ({@code MAP_FIXED} or {@code mremap}) cannot be overrun into, or
 * underrun from, a neighbouring mapping without a fault. The guards are ordinary anonymous memory on
 * purpose: guard pages of secret memory would each count against {@code RLIMIT_MEMLOCK}.
 *
 * <p>Not thread safe: the pool hands each span to one owner at a time.
 */
final class GuardedSpan {
    static final long PAGE = Libc.pageSize();

    private final long base;
    private final long dataBytes;

    private GuardedSpan(long base, long dataBytes) {
        this.base = base;
        this.dataBytes = dataBytes;
    }

    /**
     * Reserves {@code dataBytes} (a page multiple) between two guard pages; nothing is readable yet.
     *
     * @throws NativeCallException {@code ENOMEM}: out of address space or of mappings ({@code vm.max_map_count})
     */
    static GuardedSpan reserve(long dataBytes) {
        long total = dataBytes + 2 * PAGE;
        long base = Libc.mmap(0, total, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        if (base == Libc.MAP_FAILED) {
            int errno = Libc.errno();
            throw new NativeCallException("mmap", errno, "could not reserve " + total
                    + " bytes of address space for secret memory and its guard pages",
                    errno == Errno.ENOMEM ? "raise vm.max_map_count or the address-space limit (ulimit -v)" : "");
        }
        return new GuardedSpan(base, dataBytes);
    }

    /** Where the usable part starts, one page past the leading guard. */
    long data() {
        return base + PAGE;
    }

    long dataBytes() {
        return dataBytes;
    }

    /** Puts a {@code PROT_NONE} reservation back over part of the data, after a mapping into it failed. */
    void clear(long address, long bytes) {
        Libc.mmap(address, bytes, Libc.PROT_NONE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE | Libc.MAP_FIXED, -1, 0);
    }

    /**
     * Unmaps the guards and {@code count} bytes of data from {@code offset}, after everything else in the
     * span was moved out with {@code mremap}. What was moved out left a hole that the kernel may already
     * have given to another mapping, so it must never be unmapped from here.
     */
    void releaseGuardsAnd(long offset, long count) {
        Libc.munmap(base, PAGE);
        Libc.munmap(base + PAGE + dataBytes, PAGE);
        if (count > 0) {
            Libc.munmap(data() + offset, count);
        }
    }

    /**
     * Unmaps the guards and everything between them; only for a span whose contents were never moved out. Unmapping secret memory returns
     * its pages to the kernel, which clears them before they rejoin the direct map.
     */
    void release() {
        Libc.munmap(base, dataBytes + 2 * PAGE);
    }

    @Override
    public String toString() {
        return "span of " + dataBytes + " bytes";
    }
}
