// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one engine that populates in parallel: claim an index, N workers, first failure wins. */
class PopulateWorkersTest {
    /** Bounds a wait that the engine's own ordering ends: a broken engine fails the test instead of hanging it. */
    private static final long PATIENCE_SECONDS = 30;

    @Test
    void everyIndexIsClaimedExactlyOnceAcrossTheThreads() {
        int count = 5_000;
        AtomicIntegerArray runs = new AtomicIntegerArray(count);
        List<String> threadNames = java.util.Collections.synchronizedList(new ArrayList<>());
        PopulateWorkers.Outcome outcome = PopulateWorkers.onNewThreads(4, "test-populate")
                .run(count, (index, populated) -> {
                    runs.incrementAndGet(index);
                    threadNames.add(Thread.currentThread().getName());
                });
        for (int i = 0; i < count; i++) {
            assertThat(runs.get(i)).as("index %d", i).isEqualTo(1);
        }
        assertThat(outcome.completed()).isEqualTo(count);
        assertThat(outcome.failure()).isNull();
        assertThat(outcome.threads()).isBetween(1, 4);
        assertThat(threadNames.stream().distinct().count()).as("the caller and its helpers, no more")
                .isBetween(1L, (long) outcome.threads());
    }

    @Test
    void neverMoreThreadsThanPieces() {
        AtomicInteger started = new AtomicInteger();
        Executor counting = task -> {
            started.incrementAndGet();
            Thread.ofPlatform().start(task);
        };
        PopulateWorkers.Outcome outcome = PopulateWorkers.of(8, counting).run(3, (index, populated) -> { });
        assertThat(started.get()).as("helpers asked for: the caller does one piece itself").isEqualTo(2);
        assertThat(outcome.completed()).isEqualTo(3);
    }

    /**
     * The helper fails first, once the caller is inside a piece of its own; the caller, blocked there
     * until the helper has stopped, fails second. The helper's failure is the one reported, and nothing else is claimed after it.
     */
    @Test
    void theFirstFailureWinsAndTheOtherThreadsStopClaiming() throws Exception {
        Thread caller = Thread.currentThread();
        CountDownLatch helperStopped = new CountDownLatch(1);
        CountDownLatch callerInPiece = new CountDownLatch(1);
        Executor helpers = task -> Thread.ofPlatform().start(() -> {
            task.run();
            helperStopped.countDown();
        });
        RuntimeException first = new IllegalStateException("first");
        RuntimeException second = new IllegalStateException("second");
        AtomicIntegerArray runs = new AtomicIntegerArray(1_000);
        AtomicBoolean callerWaited = new AtomicBoolean();
        PopulateWorkers.Outcome outcome = PopulateWorkers.of(2, helpers).run(1_000, (index, populated) -> {
            runs.incrementAndGet(index);
            try {
                if (Thread.currentThread() != caller) {
                    callerInPiece.await(PATIENCE_SECONDS, TimeUnit.SECONDS);
                    throw first;
                }
                callerInPiece.countDown();
                callerWaited.set(helperStopped.await(PATIENCE_SECONDS, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw second;
        });
        assertThat(callerWaited).as("the helper stopped while the caller's piece was under way").isTrue();
        assertThat(outcome.failure()).isSameAs(first);
        assertThat(outcome.completed()).isZero();
        int claimed = 0;
        for (int i = 0; i < 1_000; i++) {
            claimed += runs.get(i);
        }
        assertThat(claimed).as("the two pieces under way, and nothing claimed after the first failure").isEqualTo(2);
        assertThatThrownBy(outcome::throwFailure).isSameAs(first);
    }

    @Test
    void aFailureStopsTheCallerToo() {
        AtomicInteger ran = new AtomicInteger();
        PopulateWorkers.Outcome outcome = PopulateWorkers.of(1, task -> { throw new AssertionError("no helper for one thread"); })
                .run(100, (index, populated) -> {
                    ran.incrementAndGet();
                    if (index == 9) {
                        throw new OutOfMemoryError("the tenth");
                    }
                });
        assertThat(ran.get()).isEqualTo(10);
        assertThat(outcome.completed()).isEqualTo(9);
        assertThat(outcome.failure()).isInstanceOf(OutOfMemoryError.class);
        assertThatThrownBy(outcome::throwFailure).as("an Error is thrown as it is").isInstanceOf(OutOfMemoryError.class);
    }

    @Test
    void noIndexIsClaimedOnceTheStopConditionHolds() {
        AtomicInteger ran = new AtomicInteger();
        PopulateWorkers.Outcome outcome = PopulateWorkers.onNewThreads(3, "test-populate")
                .stoppingWhen(() -> ran.get() >= 5)
                .run(1_000, (index, populated) -> ran.incrementAndGet());
        // Each thread may find the condition false just before another's piece makes it true.
        assertThat(ran.get()).isBetween(5, 5 + 2);
        assertThat(outcome.completed()).isEqualTo(ran.get());
        assertThat(outcome.failure()).isNull();
    }

    @Test
    void progressIsCumulativeNeverConcurrentAndEndsAtTheTotal() {
        List<Long> reports = new ArrayList<>();
        AtomicBoolean inside = new AtomicBoolean();
        AtomicBoolean overlapped = new AtomicBoolean();
        PopulateProgress progress = (done, total) -> {
            if (!inside.compareAndSet(false, true)) {
                overlapped.set(true);
            }
            assertThat(total).isEqualTo(600);
            reports.add(done);
            inside.set(false);
        };
        PopulateWorkers.onNewThreads(4, "test-populate").reporting(progress, 600).run(200, (index, populated) -> {
            for (int i = 0; i < 3; i++) {
                populated.accept(1);
            }
        });
        assertThat(overlapped).as("two reports at once").isFalse();
        assertThat(reports).hasSize(600).isSorted().doesNotHaveDuplicates().endsWith(600L);
    }

    @Test
    void helpersTheExecutorRefusesOrDropsAreNotWaitedFor() {
        AtomicInteger ran = new AtomicInteger();
        PopulateWorkers.Outcome refused = PopulateWorkers.of(4, task -> {
            throw new RejectedExecutionException("shutting down");
        }).run(50, (index, populated) -> ran.incrementAndGet());
        assertThat(refused.threads()).isEqualTo(1);
        assertThat(refused.completed()).isEqualTo(50);

        List<Runnable> dropped = new ArrayList<>();
        PopulateWorkers.Outcome neverStarted = PopulateWorkers.of(4, dropped::add).run(50, (index, populated) -> ran.incrementAndGet());
        assertThat(neverStarted.threads()).as("accepted but never run: the caller did it all").isEqualTo(1);
        assertThat(neverStarted.completed()).isEqualTo(50);
        dropped.forEach(Runnable::run); // started late: finds nothing to do
        assertThat(ran.get()).isEqualTo(100);
    }

    @Test
    void nothingToDoStartsNoThread() {
        PopulateWorkers.Outcome outcome = PopulateWorkers.of(4, task -> { throw new AssertionError("started"); })
                .run(0, (index, populated) -> { throw new AssertionError("ran"); });
        assertThat(outcome).isEqualTo(new PopulateWorkers.Outcome(0, 0, null));
    }
}
