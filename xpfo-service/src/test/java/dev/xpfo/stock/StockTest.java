// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.stock;

import dev.xpfo.pool.PoolLimitException;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The stock of populated files the service grants from. */
class StockTest {
    private static final long CHUNK = 1L << 20;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    private static Stock warmed(long target, long maximum) {
        Stock pool = Stock.open(StockSettings.of(CHUNK, target, maximum, 2));
        pool.warm((done, total) -> { });
        return pool;
    }

    @Test
    void warmFillsToTheTargetAndTakesFromItWithoutPopulating() {
        try (Stock pool = warmed(8 * CHUNK, 64 * CHUNK)) {
            assertThat(pool.stats().readyBytes()).isEqualTo(8 * CHUNK);
            long populated = pool.stats().chunksPopulated();
            Stock.Taken taken = pool.take(3, Duration.ofSeconds(5), true);
            assertThat(taken.files()).hasSize(3);
            assertThat(taken.populatedOnDemand()).isZero();
            assertThat(pool.stats().chunksPopulated()).isEqualTo(populated);
            assertThat(pool.stats().handedOutBytes()).isEqualTo(3 * CHUNK);
            for (XpfoFile file : taken.files()) {
                assertThat(file.size()).isEqualTo(CHUNK);
                try (Mapping mapping = file.map()) {
                    assertThat(mapping.residentPages()).as("every page already populated").isEqualTo(CHUNK / PageSize.BYTES);
                    assertThat(mapping.segment().get(ValueLayout.JAVA_LONG, CHUNK - 8)).isZero();
                }
                file.close();
            }
            pool.returned(3);
            assertThat(pool.stats().handedOutBytes()).isZero();
        }
    }

    @Test
    void aFileIsNeverHandedOutTwice() {
        try (Stock pool = warmed(4 * CHUNK, 64 * CHUNK)) {
            List<XpfoFile> first = pool.take(4, Duration.ofSeconds(5), false).files();
            try (Mapping mapping = first.getFirst().map()) {
                mapping.segment().set(ValueLayout.JAVA_LONG, 0, 0xFEED);
            }
            List<XpfoFile> second = pool.take(4, Duration.ofSeconds(5), false).files();
            for (XpfoFile file : second) {
                try (Mapping mapping = file.map()) {
                    assertThat(mapping.segment().get(ValueLayout.JAVA_LONG, 0)).isZero();
                }
            }
            first.forEach(XpfoFile::close);
            second.forEach(XpfoFile::close);
        }
    }

    @Test
    void missingChunksArePopulatedOnDemandUnlessWarmOnly() {
        try (Stock pool = Stock.open(StockSettings.of(CHUNK, 0, 64 * CHUNK, 2))) {
            assertThatThrownBy(() -> pool.take(2, Duration.ofSeconds(5), true)).isInstanceOfSatisfying(
                    StockExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(StockExhaustedException.Reason.NOT_WARM));
            Stock.Taken taken = pool.take(5, Duration.ofSeconds(30), false);
            assertThat(taken.populatedOnDemand()).isEqualTo(5);
            assertThat(pool.stats().coldChunks()).isEqualTo(5);
            taken.files().forEach(XpfoFile::close);
        }
    }

    @Test
    void theMaximumCountsWhatIsHandedOutUntilReturned() {
        try (Stock pool = warmed(2 * CHUNK, 6 * CHUNK)) {
            List<XpfoFile> held = pool.take(5, Duration.ofSeconds(5), false).files();
            assertThatThrownBy(() -> pool.take(2, Duration.ofSeconds(5), false)).isInstanceOfSatisfying(
                    PoolLimitException.class, e -> assertThat(e.limit()).isEqualTo(PoolLimitException.Limit.MAXIMUM));
            assertThat(pool.stats().handedOutBytes()).as("a refused take takes nothing").isEqualTo(5 * CHUNK);
            held.forEach(XpfoFile::close);
            pool.returned(5);
            List<XpfoFile> again = pool.take(2, Duration.ofSeconds(5), false).files();
            assertThat(again).hasSize(2);
            again.forEach(XpfoFile::close);
        }
    }

    /**
     * The clock a take's deadline is measured by: still for the thread that made it until that
     * thread has read it a given number of times, then past every deadline. Other threads (refill)
     * always read 0. A take reads it once for its deadline, then once before each chunk it populates
     * (on the taking thread alone with one populate thread).
     */
    private static final class DeadlineClock implements LongSupplier {
        private final Thread taker = Thread.currentThread();
        private long stillFor = Long.MAX_VALUE;

        /** The deadline passes after {@code chunks} chunks populated by the next take. */
        void passAfterChunks(int chunks) {
            stillFor = 1 + chunks;
        }

        @Override
        public long getAsLong() {
            if (Thread.currentThread() != taker) {
                return 0;
            }
            return stillFor-- > 0 ? 0 : Long.MAX_VALUE / 2;
        }
    }

    @Test
    void aTakePastItsDeadlineFailsAndClosesWhatItPopulatedBeyondTheTarget() {
        DeadlineClock clock = new DeadlineClock();
        try (Stock pool = Stock.open(StockSettings.of(CHUNK, 0, 512 * CHUNK, 1), Stock.PopulateGate.NONE, clock,
                Duration.ofSeconds(1))) {
            clock.passAfterChunks(3);
            assertThatThrownBy(() -> pool.take(400, Duration.ofSeconds(1), false)).isInstanceOfSatisfying(
                    StockExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(StockExhaustedException.Reason.DEADLINE))
                    .hasMessageContaining("populated 3 of the 400 missing chunks");
            StockStats stats = pool.stats();
            assertThat(stats.handedOutBytes()).isZero();
            assertThat(stats.populatingBytes()).isZero();
            assertThat(stats.readyBytes()).as("a target of 0 keeps nothing").isZero();
            assertThat(stats.coldChunks()).as("populated for the take, on demand").isEqualTo(3).isEqualTo(stats.chunksPopulated());
            assertThat(stats.trimmedChunks()).isEqualTo(stats.coldChunks());
        }
    }

    /**
     * The report: a 1 GiB grant against a 256 MiB stock took the 256 warm chunks, populated 722 more
     * before its deadline, failed, and all 978 stayed ready (out of the direct map) for good. Here 4
     * warm chunks and a take far larger than can be populated in its deadline.
     */
    @Test
    void aFailedColdTakeLeavesTheStockAtItsTargetAndCountsWhatItPopulatedAsOnDemand() {
        DeadlineClock clock = new DeadlineClock();
        try (Stock pool = Stock.open(StockSettings.of(CHUNK, 4 * CHUNK, 8192 * CHUNK, 1), Stock.PopulateGate.NONE, clock,
                Duration.ofSeconds(1))) {
            pool.warm(PopulateProgress.NONE);
            clock.passAfterChunks(10);
            assertThatThrownBy(() -> pool.take(8000, Duration.ofSeconds(1), false)).isInstanceOfSatisfying(
                    StockExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(StockExhaustedException.Reason.DEADLINE));
            StockStats failed = pool.stats();
            assertThat(failed.coldChunks()).as("chunks the failed take populated count as on demand").isEqualTo(10);
            assertThat(failed.readyBytes()).as("trimmed when the take failed, not later").isLessThanOrEqualTo(4 * CHUNK);
            assertThat(failed.trimmedChunks()).as("what came back beyond the target was closed")
                    .isGreaterThanOrEqualTo(failed.coldChunks());
            assertThat(failed.handedOutBytes()).isZero();

            pool.warm(PopulateProgress.NONE); // returns once refill is idle at the target
            StockStats settled = pool.stats();
            assertThat(settled.readyBytes()).isEqualTo(4 * CHUNK);
            assertThat(settled.populatingBytes()).isZero();
            assertThat(settled.chunksPopulated()).as("each chunk counted once, warmed or on demand")
                    .isEqualTo(settled.warmedChunks() + settled.coldChunks());
            assertThat(settled.chunksPopulated() - settled.trimmedChunks()).as("every other chunk is ready")
                    .isEqualTo(4);
            assertThat(pool.metrics()).filteredOn(m -> m.name().equals("xpfo_stock_on_demand_bytes_total"))
                    .singleElement().satisfies(m -> assertThat(m.value()).isEqualTo(settled.coldChunks() * CHUNK));
        }
    }

    /**
     * Whether refill runs is decided by the take, under the stock's lock: the stats read right after
     * it show the decision, with no waiting to see whether anything happens.
     */
    @Test
    void refillWaitsForTheLowWatermarkThenFillsToTheTarget() {
        try (Stock pool = warmed(8 * CHUNK, 64 * CHUNK)) {
            assertThat(pool.stats().refilling()).as("idle at the target").isFalse();
            pool.take(3, Duration.ofSeconds(5), true).files().forEach(XpfoFile::close);
            StockStats above = pool.stats();
            assertThat(above.refilling()).as("5 ready, low watermark 4: no refill").isFalse();
            assertThat(above.readyBytes()).isEqualTo(5 * CHUNK);
            assertThat(above.populatingBytes()).isZero();
            pool.take(2, Duration.ofSeconds(5), true).files().forEach(XpfoFile::close);
            assertThat(pool.stats().refilling()).as("3 ready, below the low watermark: refill runs").isTrue();
            pool.warm(PopulateProgress.NONE); // waits for the refill the take started
            StockStats refilled = pool.stats();
            assertThat(refilled.readyBytes()).isEqualTo(8 * CHUNK);
            assertThat(refilled.refilling()).as("stopped at the target").isFalse();
            assertThat(refilled.refillBytesPerSecond()).isPositive();
        }
    }

    /**
     * Warm waits on the stock's condition, not a timer: what ends the wait must signal it. A gate with
     * room for two chunks stops refill there, and warm returns with those two (the timeout only turns
     * a missed signal into a failure rather than a hung build).
     */
    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void warmReturnsWhenTheGateHasNoMoreRoom() {
        Stock.PopulateGate twoChunks = new Stock.PopulateGate() {
            private long populated;

            @Override
            public synchronized long room(long populatingBytes) {
                return 2 * CHUNK - populated - populatingBytes;
            }

            @Override
            public synchronized void populated(long bytes) {
                populated += bytes;
            }

            @Override
            public String describe() {
                return "two chunks";
            }
        };
        try (Stock pool = Stock.open(StockSettings.of(CHUNK, 8 * CHUNK, 64 * CHUNK, 1), twoChunks)) {
            List<Long> progress = new java.util.ArrayList<>();
            pool.warm((done, total) -> progress.add(done));
            assertThat(pool.stats().readyBytes()).isEqualTo(2 * CHUNK);
            assertThat(progress).isSorted().endsWith(2 * CHUNK);
        }
    }

    /**
     * A gate with no room at all: refill never populates, so no batch ends to wake a warm; the refill
     * thread's finding that the gate is shut must (the timeout turns a missed signal into a failure).
     */
    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void warmReturnsAtOnceWhenTheGateHasNoRoomAtAll() {
        Stock.PopulateGate shut = new Stock.PopulateGate() {
            @Override
            public long room(long populatingBytes) {
                return 0;
            }

            @Override
            public String describe() {
                return "no room";
            }
        };
        try (Stock pool = Stock.open(StockSettings.of(CHUNK, 8 * CHUNK, 64 * CHUNK, 1), shut)) {
            pool.warm(PopulateProgress.NONE);
            assertThat(pool.stats().readyBytes()).isZero();
            assertThat(pool.stats().chunksPopulated()).isZero();
        }
    }

    @Test
    void refillRunsAtTheLowestCpuPriority() throws Exception {
        try (Stock pool = warmed(2 * CHUNK, 64 * CHUNK)) {
            List<Integer> nice = new java.util.ArrayList<>();
            try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
                for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) tasks::iterator) {
                    if (java.nio.file.Files.readString(task.resolve("comm")).trim().equals("xpfo-refill")) {
                        String stat = java.nio.file.Files.readString(task.resolve("stat"));
                        // Fields after the command name: state is field 3, nice is field 19.
                        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        nice.add(Integer.parseInt(fields[16]));
                    }
                }
            }
            assertThat(nice).containsExactly(19);
        }
    }

    @Test
    void closingReleasesTheStockAndRefusesTakes() {
        Stock pool = warmed(4 * CHUNK, 64 * CHUNK);
        pool.close();
        assertThat(pool.stats().readyBytes()).isZero();
        assertThatThrownBy(() -> pool.take(1, Duration.ofSeconds(1), false)).isInstanceOf(XpfoClosedException.class);
        pool.close();
    }
}
