package dev.xpfo.pool;

import dev.xpfo.testing.SecretMemory;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The stock of populated files the service grants from. */
class FilePoolTest {
    private static final long CHUNK = 1L << 20;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    private static FilePool warmed(long target, long maximum) {
        FilePool pool = FilePool.open(FilePoolSettings.of(CHUNK, target, maximum, 2));
        pool.warm((done, total) -> { });
        return pool;
    }

    @Test
    void warmFillsToTheTargetAndTakesFromItWithoutPopulating() {
        try (FilePool pool = warmed(8 * CHUNK, 64 * CHUNK)) {
            assertThat(pool.stats().readyBytes()).isEqualTo(8 * CHUNK);
            long populated = pool.stats().chunksPopulated();
            FilePool.Taken taken = pool.take(3, Duration.ofSeconds(5), true);
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
        try (FilePool pool = warmed(4 * CHUNK, 64 * CHUNK)) {
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
        try (FilePool pool = FilePool.open(FilePoolSettings.of(CHUNK, 0, 64 * CHUNK, 2))) {
            assertThatThrownBy(() -> pool.take(2, Duration.ofSeconds(5), true)).isInstanceOfSatisfying(
                    PoolExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(PoolExhaustedException.Reason.NOT_WARM));
            FilePool.Taken taken = pool.take(5, Duration.ofSeconds(30), false);
            assertThat(taken.populatedOnDemand()).isEqualTo(5);
            assertThat(pool.stats().coldChunks()).isEqualTo(5);
            taken.files().forEach(XpfoFile::close);
        }
    }

    @Test
    void theMaximumCountsWhatIsHandedOutUntilReturned() {
        try (FilePool pool = warmed(2 * CHUNK, 6 * CHUNK)) {
            List<XpfoFile> held = pool.take(5, Duration.ofSeconds(5), false).files();
            assertThatThrownBy(() -> pool.take(2, Duration.ofSeconds(5), false)).isInstanceOfSatisfying(
                    PoolExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(PoolExhaustedException.Reason.MAXIMUM));
            assertThat(pool.stats().handedOutBytes()).as("a refused take takes nothing").isEqualTo(5 * CHUNK);
            held.forEach(XpfoFile::close);
            pool.returned(5);
            List<XpfoFile> again = pool.take(2, Duration.ofSeconds(5), false).files();
            assertThat(again).hasSize(2);
            again.forEach(XpfoFile::close);
        }
    }

    @Test
    void aTakePastItsDeadlineFailsAndClosesWhatItPopulatedBeyondTheTarget() {
        try (FilePool pool = FilePool.open(FilePoolSettings.of(CHUNK, 0, 512 * CHUNK, 1))) {
            assertThatThrownBy(() -> pool.take(400, Duration.ofMillis(20), false)).isInstanceOfSatisfying(
                    PoolExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(PoolExhaustedException.Reason.DEADLINE));
            FilePoolStats stats = pool.stats();
            assertThat(stats.handedOutBytes()).isZero();
            assertThat(stats.populatingBytes()).isZero();
            assertThat(stats.readyBytes()).as("a target of 0 keeps nothing").isZero();
            assertThat(stats.coldChunks()).as("populated for the take, on demand").isEqualTo(stats.chunksPopulated());
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
        try (FilePool pool = warmed(4 * CHUNK, 8192 * CHUNK)) {
            assertThatThrownBy(() -> pool.take(8000, Duration.ofMillis(100), false)).isInstanceOfSatisfying(
                    PoolExhaustedException.class, e -> assertThat(e.reason()).isEqualTo(PoolExhaustedException.Reason.DEADLINE));
            FilePoolStats failed = pool.stats();
            assertThat(failed.coldChunks()).as("chunks the failed take populated count as on demand").isPositive();
            assertThat(failed.readyBytes()).as("trimmed when the take failed, not later").isLessThanOrEqualTo(4 * CHUNK);
            assertThat(failed.trimmedChunks()).as("what came back beyond the target was closed")
                    .isGreaterThanOrEqualTo(failed.coldChunks());
            assertThat(failed.handedOutBytes()).isZero();

            pool.warm(PopulateProgress.NONE); // returns once refill is idle at the target
            FilePoolStats settled = pool.stats();
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

    @Test
    void refillWaitsForTheLowWatermarkThenFillsToTheTarget() throws InterruptedException {
        try (FilePool pool = warmed(8 * CHUNK, 64 * CHUNK)) {
            pool.take(3, Duration.ofSeconds(5), true).files().forEach(XpfoFile::close);
            Thread.sleep(200);
            assertThat(pool.stats().readyBytes()).as("5 ready, low watermark 4: no refill").isEqualTo(5 * CHUNK);
            pool.take(2, Duration.ofSeconds(5), true).files().forEach(XpfoFile::close);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pool.stats().readyBytes() < 8 * CHUNK && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(pool.stats().readyBytes()).isEqualTo(8 * CHUNK);
            assertThat(pool.stats().refillBytesPerSecond()).isPositive();
        }
    }

    @Test
    void refillRunsAtTheLowestCpuPriority() throws Exception {
        try (FilePool pool = warmed(2 * CHUNK, 64 * CHUNK)) {
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
        FilePool pool = warmed(4 * CHUNK, 64 * CHUNK);
        pool.close();
        assertThat(pool.stats().readyBytes()).isZero();
        assertThatThrownBy(() -> pool.take(1, Duration.ofSeconds(1), false)).isInstanceOf(XpfoClosedException.class);
        pool.close();
    }
}
