// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Libc;

/**
 * The kernel's base page size, read once from {@code sysconf(_SC_PAGESIZE)} (the kernel's
 * {@code AT_PAGESZ}): the unit of mappings, of {@code mincore} and of secret memory file sizes. It is
 * 4 KiB on x86-64, and 4, 16 or 64 KiB on arm64 depending on how the kernel was built, so nothing in
 * xpfo assumes 4096.
 */
public final class PageSize {
    /** Bytes in one base page (a power of two). */
    public static final long BYTES = read();

    private PageSize() {
    }

    private static long read() {
        long bytes = Libc.sysconf(Libc.SC_PAGESIZE);
        if (bytes <= 0 || Long.bitCount(bytes) != 1) {
            // glibc answers from the kernel's auxiliary vector: this cannot fail on Linux.
            throw new IllegalStateException("sysconf(_SC_PAGESIZE) gave " + bytes + ", not a page size");
        }
        return bytes;
    }

    /** How many pages {@code bytes} spans, the last one possibly partly. */
    public static long pagesIn(long bytes) {
        return Bytes.roundUp(bytes, BYTES) / BYTES;
    }
}
