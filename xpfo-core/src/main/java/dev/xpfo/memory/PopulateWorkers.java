// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * The one engine that populates in parallel: {@code count} pieces of work, numbered {@code 0} to
 * {@code count - 1} (chunks of a pool, files of the stock, shares of a mapping's pages), run on up to
 * {@code threads} threads, the calling thread and helpers from an {@link Executor}. Each thread
 * claims the next unclaimed index until none is left, so every index is claimed at most once and,
 * without a failure or a stop, exactly once.
 *
 * <p>The first failure wins: it is what {@link Outcome#failure()} reports, and every thread stops
 * claiming once it is recorded (a piece already under way finishes: populating cannot be stopped
 * halfway through a page). {@link #stoppingWhen} stops claiming the same way, for a deadline or a
 * closed owner. {@link #run} returns only when every helper has stopped, so what the pieces made is
 * complete and visible to the caller; an interrupt does not cut that wait short (the flag is kept).
 *
 * <p>Progress, in bytes, is counted and reported under one lock, so reports never go backwards and
 * never come from two threads at once (as {@link PopulateProgress} promises).
 *
 * <p>Immutable: a configured engine may run any number of times, from any thread.
 */
public final class PopulateWorkers {
    private final int threads;
    private final Executor helpers;
    private final BooleanSupplier stopped;
    private final PopulateProgress progress;
    private final long totalBytes;

    private PopulateWorkers(int threads, Executor helpers, BooleanSupplier stopped, PopulateProgress progress,
                            long totalBytes) {
        if (threads < 1) {
            throw new IllegalArgumentException("populating needs at least one thread, not " + threads);
        }
        this.threads = threads;
        this.helpers = helpers;
        this.stopped = stopped;
        this.progress = progress;
        this.totalBytes = totalBytes;
    }

    /**
     * Up to {@code threads} threads: the caller and {@code threads - 1} helpers started on
     * {@code helpers}; a helper the executor rejects (it is shutting down) is simply not started.
     */
    public static PopulateWorkers of(int threads, Executor helpers) {
        return new PopulateWorkers(threads, helpers, () -> false, PopulateProgress.NONE, 0);
    }

    /** Helpers on new platform threads, each for one run, named {@code name-1}, {@code name-2}, ... */
    public static PopulateWorkers onNewThreads(int threads, String name) {
        java.util.concurrent.ThreadFactory factory = Thread.ofPlatform().name(name + "-", 1).factory();
        return of(threads, task -> factory.newThread(task).start());
    }

    /** No thread claims another index once {@code stop} says so (a deadline passed, the owner closed). */
    public PopulateWorkers stoppingWhen(BooleanSupplier stop) {
        return new PopulateWorkers(threads, helpers, stop, progress, totalBytes);
    }

    /** Reports the bytes the pieces say they populated, out of {@code total}, to {@code to}. */
    public PopulateWorkers reporting(PopulateProgress to, long total) {
        return new PopulateWorkers(threads, helpers, stopped, to, total);
    }

    /** One piece of the work. */
    @FunctionalInterface
    public interface Piece {
        /**
         * Does piece {@code index}, telling {@code populated} of each stretch of bytes it finishes (any
         * number of times, or never). Throwing fails the run: the first failure wins.
         */
        void run(int index, LongConsumer populated);
    }

    /**
     * How a run ended.
     *
     * @param completed pieces that returned normally
     * @param threads   threads that took part, the caller's included
     * @param failure   the first piece's failure, or null
     */
    public record Outcome(int completed, int threads, Throwable failure) {
        /** Throws the failure, if any, as it was thrown ({@link RuntimeException} or {@link Error}). */
        public void throwFailure() {
            switch (failure) {
                case null -> { }
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IllegalStateException("populating failed", failure);
            }
        }
    }

    /** Runs pieces {@code 0} to {@code count - 1} and waits for every thread to stop. */
    public Outcome run(int count, Piece piece) {
        if (count <= 0) {
            return new Outcome(0, 0, null);
        }
        AtomicInteger next = new AtomicInteger();
        AtomicInteger completed = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Object progressLock = new Object();
        long[] done = new long[1];
        LongConsumer populated = bytes -> {
            synchronized (progressLock) {
                done[0] += bytes;
                progress.populated(done[0], totalBytes);
            }
        };
        Runnable worker = () -> {
            while (failure.get() == null && !stopped.getAsBoolean()) {
                int index = next.getAndIncrement();
                if (index >= count) {
                    return;
                }
                try {
                    piece.run(index, populated);
                    completed.incrementAndGet();
                } catch (RuntimeException | Error e) {
                    failure.compareAndSet(null, e);
                }
            }
        };

        int wanted = Math.min(threads, count) - 1;
        CountDownLatch helpersDone = new CountDownLatch(wanted);
        // A helper either runs (and counts down when it stops) or, if it has not started by the time the
        // caller's own share is done, is given up by the caller (which counts down for it): the caller
        // never waits for a thread the executor has not started, or dropped.
        AtomicBoolean[] started = new AtomicBoolean[wanted];
        int helping = 0;
        for (int i = 0; i < wanted; i++) {
            AtomicBoolean claim = new AtomicBoolean();
            started[i] = claim;
            try {
                helpers.execute(() -> {
                    if (claim.compareAndSet(false, true)) {
                        try {
                            worker.run();
                        } finally {
                            helpersDone.countDown();
                        }
                    }
                });
                helping++;
            } catch (RejectedExecutionException e) {
                claim.set(true);
                helpersDone.countDown(); // shutting down: this thread's own share still runs, and stops if asked
            }
        }
        worker.run();
        for (AtomicBoolean claim : started) {
            if (claim.compareAndSet(false, true)) {
                helpersDone.countDown();
                helping--;
            }
        }
        boolean interrupted = false;
        while (true) {
            try {
                helpersDone.await();
                break;
            } catch (InterruptedException e) {
                // A helper cannot be stopped halfway through a piece: finish waiting, then restore the flag.
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return new Outcome(completed.get(), 1 + helping, failure.get());
    }
}
