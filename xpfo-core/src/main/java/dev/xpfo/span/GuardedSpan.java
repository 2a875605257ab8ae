// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.span;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.NativeErrors;
import dev.xpfo.memory.PageSize;

/**
 * A reservation of address space with an anonymous {@code PROT_NONE} guard page at each end: the
 * chunks of memory moved inside it ({@code mremap}) cannot be overrun into, or
 * underrun from, a neighbouring mapping without a fault. The guards are ordinary anonymous memory on
 * purpose: guard pages of secret memory would each count against {@code RLIMIT_MEMLOCK}.
 *
 * <p>Not thread safe: each span has one owner at a time. In a package the module does not export:
 * it deals in raw addresses.
 */
public final class GuardedSpan {
    /** A guard's size, one base page ({@link PageSize#BYTES}): the unit the data is a multiple of. */
    public static final long PAGE = PageSize.BYTES;

    private final long base;
    private final long dataBytes;
    /** Guards, data and any reservation kept after the data (which guards it as well). */
    private final long totalBytes;

    private GuardedSpan(long base, long dataBytes, long totalBytes) {
        this.base = base;
        this.dataBytes = dataBytes;
        this.totalBytes = totalBytes;
    }

    /**
     * Reserves {@code dataBytes} (a page multiple) between two guard pages; nothing is readable yet.
     *
     * @throws NativeCallException {@code ENOMEM}: out of address space or of mappings ({@code vm.max_map_count})
     */
    public static GuardedSpan reserve(long dataBytes) {
        long total = dataBytes + 2 * PAGE;
        long base = Libc.mmap(0, total, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        if (base == Libc.MAP_FAILED) {
            throw NativeErrors.mapping("mmap", Libc.errno(), total, "could not reserve " + total
                    + " bytes of address space for secret memory and its guard pages");
        }
        return new GuardedSpan(base, dataBytes, total);
    }

    /** Where the usable part starts, one page past the leading guard. */
    public long data() {
        return base + PAGE;
    }

    public long dataBytes() {
        return dataBytes;
    }

    /**
     * The same reservation holding only its first {@code keptBytes} of data: the rest stays reserved
     * {@code PROT_NONE}, so it guards the kept part's end.
     */
    public GuardedSpan shrinkTo(long keptBytes) {
        return new GuardedSpan(base, keptBytes, totalBytes);
    }

    /**
     * Unmaps the guards (with any reservation kept after the data), after all the data was moved out
     * with {@code mremap}. What was moved out left a hole that the kernel may already have given to
     * another mapping, so it is never unmapped from here.
     */
    public void releaseGuards() {
        Libc.munmap(base, PAGE);
        long tail = data() + dataBytes;
        Libc.munmap(tail, base + totalBytes - tail);
    }

    /**
     * Unmaps the guards and everything between them; only for a span whose contents were never moved
     * out. Unmapping secret memory returns its pages to the kernel, which clears them before they
     * rejoin the direct map.
     */
    public void release() {
        Libc.munmap(base, totalBytes);
    }

    @Override
    public String toString() {
        return "span of " + dataBytes + " bytes";
    }
}
