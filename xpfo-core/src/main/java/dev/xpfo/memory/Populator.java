// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Faults in every page of a mapping, so the kernel allocates it now. For secret memory that is the
 * moment each page leaves the direct map and every CPU's TLB is flushed: the cost is paid here, at
 * sizing time, not by whoever first touches the memory later. ({@code MAP_POPULATE} and
 * {@code MADV_POPULATE_WRITE} do not work on secret memory, so touching is the only way.)
 *
 * <p>Pages are touched by reading, which allocates a secret memory page as a write would, but never
 * changes contents: populating a file that already holds data is safe.
 */
final class Populator {
    /** Progress is reported at most once per this many bytes, per thread. */
    private static final long REPORT_EVERY = 2L * 1024 * 1024;

    private final long pageSize;

    Populator(long pageSize) {
        this.pageSize = pageSize;
    }

    /**
     * Touches every page of {@code memory}, split in contiguous shares over {@code threads} threads
     * (the calling thread alone when 1), one share per thread, on the {@link PopulateWorkers} engine.
     */
    void populate(MemorySegment memory, int threads, PopulateProgress progress) {
        long pages = Bytes.roundUp(memory.byteSize(), pageSize) / pageSize;
        int shares = (int) Math.max(1, Math.min(threads, pages));
        long share = pages / shares;
        PopulateWorkers.onNewThreads(shares, "xpfo-populate")
                .reporting(progress, memory.byteSize())
                .run(shares, (index, populated) -> {
                    long first = index * share;
                    long end = index == shares - 1 ? pages : first + share;
                    touch(memory, first, end, populated);
                })
                .throwFailure();
    }

    private void touch(MemorySegment memory, long firstPage, long endPage, LongConsumer reporter) {
        long limit = memory.byteSize();
        long unreported = 0;
        int sink = 0;
        for (long page = firstPage; page < endPage; page++) {
            long offset = page * pageSize;
            sink += memory.get(ValueLayout.JAVA_BYTE, offset);
            long bytes = Math.min(pageSize, limit - offset);
            unreported += bytes;
            if (unreported >= REPORT_EVERY) {
                reporter.accept(unreported);
                unreported = 0;
            }
        }
        if (unreported > 0) {
            reporter.accept(unreported);
        }
        SINK.addAndGet(sink);
    }

    /** Keeps the JIT from discarding the touching reads as unused. */
    private static final AtomicLong SINK = new AtomicLong();
}
