package dev.xpfo.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

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
     * (the calling thread alone when 1).
     */
    void populate(MemorySegment memory, int threads, PopulateProgress progress) {
        long pages = Bytes.roundUp(memory.byteSize(), pageSize) / pageSize;
        int workers = (int) Math.max(1, Math.min(threads, pages));
        AtomicLong done = new AtomicLong();
        Object reportLock = new Object();
        // Counted and reported under one lock, so reports never go backwards.
        Reporter reporter = bytes -> {
            synchronized (reportLock) {
                progress.populated(done.addAndGet(bytes), memory.byteSize());
            }
        };
        if (workers == 1) {
            touch(memory, 0, pages, reporter);
            return;
        }
        List<Thread> started = new ArrayList<>(workers);
        long share = pages / workers;
        for (int i = 0; i < workers; i++) {
            long first = i * share;
            long end = i == workers - 1 ? pages : first + share;
            started.add(Thread.ofPlatform().name("xpfo-populate-" + i).start(() -> touch(memory, first, end, reporter)));
        }
        boolean interrupted = false;
        for (Thread thread : started) {
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    // Workers cannot be stopped mid-page; finish waiting, then restore the flag.
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private interface Reporter {
        void advanced(long bytes);
    }

    private void touch(MemorySegment memory, long firstPage, long endPage, Reporter reporter) {
        long limit = memory.byteSize();
        long unreported = 0;
        int sink = 0;
        for (long page = firstPage; page < endPage; page++) {
            long offset = page * pageSize;
            sink += memory.get(ValueLayout.JAVA_BYTE, offset);
            long bytes = Math.min(pageSize, limit - offset);
            unreported += bytes;
            if (unreported >= REPORT_EVERY) {
                reporter.advanced(unreported);
                unreported = 0;
            }
        }
        if (unreported > 0) {
            reporter.advanced(unreported);
        }
        SINK.addAndGet(sink);
    }

    /** Keeps the JIT from discarding the touching reads as unused. */
    private static final AtomicLong SINK = new AtomicLong();
}
