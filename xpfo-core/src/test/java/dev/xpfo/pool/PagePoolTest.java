// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.metrics.Metric;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The warm pool: memory populated ahead of demand, handed out at once, wiped and reused on return. */
class PagePoolTest {
    private static final long CHUNK = 256 * Bytes.KIB;
    private static final long PAGE = PageSize.BYTES;
    private static final Path SMAPS = Path.of("/proc/self/smaps");

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    private static PoolSettings settings() {
        return PoolSettings.defaults().withChunkBytes(CHUNK).withMaximumBytes(64 * CHUNK).withPopulateThreads(2);
    }

    @Test
    void aTakeFromWarmChunksPopulatesNothingAndIsNotCold() {
        try (PagePool pool = PagePool.open(settings())) {
            List<Long> progress = new ArrayList<>();
            pool.warm(4 * CHUNK, (done, total) -> progress.add(done));
            assertThat(progress).hasSize(4).endsWith(4 * CHUNK);
            assertThat(pool.stats().readyBytes()).isEqualTo(4 * CHUNK);

            try (Region region = pool.take(3 * CHUNK + 1)) {
                PoolStats stats = pool.stats();
                assertThat(stats.chunksPopulated()).isEqualTo(4);
                assertThat(stats.coldTakes()).isZero();
                assertThat(stats.inUseBytes()).isEqualTo(4 * CHUNK);
                assertThat(stats.readyBytes()).isZero();
                assertThat(region.byteSize()).isEqualTo(3 * CHUNK + 1);
                assertThat(region.segment().byteSize()).isEqualTo(3 * CHUNK + 1);
            }
        }
    }

    @Test
    void aTakeBeyondWhatIsReadyPopulatesTheRestAndCountsAColdTake() {
        try (PagePool pool = PagePool.open(settings())) {
            pool.warm(CHUNK, (done, total) -> { });
            try (Region region = pool.take(3 * CHUNK)) {
                PoolStats stats = pool.stats();
                assertThat(stats.coldTakes()).isEqualTo(1);
                assertThat(stats.chunksPopulated()).isEqualTo(3);
                fillAndCheck(region.segment());
            }
        }
    }

    @Test
    void aRegionIsContiguousSecretMemoryBetweenGuardPages() {
        try (PagePool pool = PagePool.open(settings())) {
            pool.warm(3 * CHUNK, (done, total) -> { });
            try (Region region = pool.take(3 * CHUNK)) {
                long start = region.segment().address();
                long end = start + 3 * CHUNK;
                fillAndCheck(region.segment());
                for (long address = start; address < end; address += CHUNK) {
                    MapsEntry chunk = Smaps.find(SMAPS, address).orElseThrow();
                    assertThat(chunk.isSecretMemory()).as("chunk at offset " + (address - start)).isTrue();
                    assertThat(chunk.flags()).contains("lo", "dd", "dc");
                }
                assertThat(region.isolation()).isEqualTo(Isolation.DIRECT_MAP_REMOVED);
                MapsEntry before = Smaps.find(SMAPS, start - PAGE).orElseThrow();
                MapsEntry after = Smaps.find(SMAPS, end).orElseThrow();
                assertThat(before.permissions()).isEqualTo("---p");
                assertThat(before.path()).isEmpty();
                assertThat(after.permissions()).isEqualTo("---p");
                assertThat(after.path()).isEmpty();
            }
        }
    }

    @Test
    void aReturnedRegionIsWipedAndReusedWithoutPopulating() {
        try (PagePool pool = PagePool.open(settings())) {
            long address;
            try (Region region = pool.take(2 * CHUNK)) {
                address = region.segment().address();
                region.segment().fill((byte) 0x5a);
            }
            assertThat(pool.stats().wipes()).isEqualTo(1);
            assertThat(pool.stats().readyBytes()).isEqualTo(2 * CHUNK);
            try (Region again = pool.take(2 * CHUNK)) {
                assertThat(again.segment().address()).isEqualTo(address);
                assertThat(again.segment().mismatch(MemorySegment.ofArray(new byte[(int) (2 * CHUNK)]))).isEqualTo(-1);
                assertThat(pool.stats().chunksPopulated()).isEqualTo(2);
                assertThat(pool.stats().coldTakes()).isEqualTo(1);
            }
        }
    }

    @Test
    void readyChunksOfOtherSizesAreMovedNotRepopulated() {
        try (PagePool pool = PagePool.open(settings())) {
            try (Region two = pool.take(2 * CHUNK); Region one = pool.take(CHUNK)) {
                two.segment().fill((byte) 1);
                one.segment().fill((byte) 2);
            }
            long populated = pool.stats().chunksPopulated();
            try (Region single = pool.take(CHUNK)) {
                assertThat(single.segment().get(ValueLayout.JAVA_BYTE, 0)).isZero();
            }
            try (Region three = pool.take(3 * CHUNK)) {
                assertThat(three.segment().mismatch(MemorySegment.ofArray(new byte[(int) (3 * CHUNK)]))).isEqualTo(-1);
                fillAndCheck(three.segment());
            }
            assertThat(pool.stats().chunksPopulated()).isEqualTo(populated);
            assertThat(pool.stats().coldTakes()).isEqualTo(2);
            assertThat(pool.stats().readyBytes()).isEqualTo(3 * CHUNK);
        }
    }

    @Test
    void chunksBeyondWhatATakeNeedsGoBackReadyEachBetweenGuards() {
        try (PagePool pool = PagePool.open(settings())) {
            pool.take(3 * CHUNK).close();
            try (Region one = pool.take(CHUNK)) {
                assertThat(one.segment().get(ValueLayout.JAVA_LONG, 0)).isZero();
                PoolStats stats = pool.stats();
                assertThat(stats.readyBytes()).isEqualTo(2 * CHUNK);
                assertThat(stats.populatingBytes()).isZero();
                assertThat(stats.chunksPopulated()).isEqualTo(3);
            }
            try (Region two = pool.take(2 * CHUNK); Region another = pool.take(CHUNK)) {
                fillAndCheck(two.segment());
                fillAndCheck(another.segment());
                assertThat(pool.stats().chunksPopulated()).isEqualTo(3);
                for (Region region : List.of(two, another)) {
                    long start = region.segment().address();
                    assertThat(Smaps.find(SMAPS, start - PAGE).orElseThrow().permissions()).isEqualTo("---p");
                    assertThat(Smaps.find(SMAPS, start + region.byteSize()).orElseThrow().permissions()).isEqualTo("---p");
                }
            }
        }
    }

    @Test
    void anAbsurdWarmIsRefusedWithoutPopulatingAnything() {
        try (PagePool pool = PagePool.open(settings().withMaximumBytes(4 * CHUNK))) {
            pool.take(CHUNK).close();
            assertThatThrownBy(() -> pool.warm(Long.MAX_VALUE / 2, (d, t) -> { })).isInstanceOf(PoolLimitException.class);
            assertThat(pool.stats().chunksPopulated()).isEqualTo(1);
            assertThat(pool.stats().populatingBytes()).isZero();
        }
    }

    @Test
    void aRegionInUseByANativeCallStaysOpenUntilItCanBeClosed() throws Exception {
        try (PagePool pool = PagePool.open(settings()); java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            Region region = pool.take(CHUNK);
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            assertThat(Libc.pipe2(fds, Libc.O_CLOEXEC)).isZero();
            int readEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
            int writeEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
            java.util.concurrent.CompletableFuture<Integer> readerTid = new java.util.concurrent.CompletableFuture<>();
            Thread reader = Thread.ofPlatform().start(() -> {
                readerTid.complete(Libc.gettid());
                Libc.read(readEnd, region.segment(), 1);
            });
            try {
                // Wait until the reader is inside read(2) on the pipe, holding the segment's session.
                awaitBlockedReading(readerTid.get(), readEnd);
                assertThatThrownBy(region::close).as("close while read(2) holds the segment")
                        .isInstanceOf(IllegalStateException.class);
                assertThat(region.isOpen()).isTrue();
                assertThat(pool.stats().inUseBytes()).isEqualTo(CHUNK);
            } finally {
                Libc.write(writeEnd, arena.allocateFrom("x"), 1);
                reader.join();
                Libc.close(readEnd);
                Libc.close(writeEnd);
            }
            region.close();
            assertThat(region.isOpen()).isFalse();
            assertThat(pool.stats().inUseBytes()).isZero();
            assertThat(pool.stats().readyBytes()).isEqualTo(CHUNK);
        }
    }

    @Test
    void aClosedRegionsMemoryCannotBeReachedAnyMore() {
        try (PagePool pool = PagePool.open(settings())) {
            Region region = pool.take(CHUNK);
            MemorySegment kept = region.segment();
            region.close();
            region.close();
            assertThatThrownBy(() -> kept.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(region::segment).isInstanceOf(XpfoClosedException.class);
            assertThat(pool.stats().inUseBytes()).isZero();
        }
    }

    @Test
    void thePoolNeverExceedsItsMaximumAndSaysSo() {
        try (PagePool pool = PagePool.open(settings().withMaximumBytes(4 * CHUNK))) {
            Region three = pool.take(3 * CHUNK);
            assertThatThrownBy(() -> pool.take(2 * CHUNK))
                    .isInstanceOfSatisfying(PoolLimitException.class,
                            e -> assertThat(e.limit()).isEqualTo(PoolLimitException.Limit.MAXIMUM))
                    .hasMessageContaining("maximum is 1 MiB as configured").hasMessageContaining("withMaximumBytes");
            assertThatThrownBy(() -> pool.warm(2 * CHUNK, (d, t) -> { })).isInstanceOf(PoolLimitException.class);
            assertThatThrownBy(() -> pool.take(5 * CHUNK)).isInstanceOf(PoolLimitException.class)
                    .hasMessageContaining("larger than the pool may ever hold");
            try (Region last = pool.take(CHUNK)) {
                assertThat(pool.stats().inUseBytes()).isEqualTo(4 * CHUNK);
            }
            three.close();
            try (Region two = pool.take(2 * CHUNK)) {
                assertThat(pool.stats().chunksPopulated()).isEqualTo(4);
            }
            assertThat(pool.stats().readyBytes() + pool.stats().inUseBytes()).isLessThanOrEqualTo(4 * CHUNK);
        }
    }

    @Test
    void theBackgroundRefillKeepsMemoryReadyBetweenTheWatermarks() throws Exception {
        try (PagePool pool = PagePool.open(settings().withWatermarks(2 * CHUNK, 4 * CHUNK))) {
            awaitReady(pool, 4 * CHUNK);
            try (Region region = pool.take(3 * CHUNK)) {
                assertThat(pool.stats().coldTakes()).isZero();
                awaitReady(pool, 4 * CHUNK);
                assertThat(pool.stats().chunksPopulated()).isEqualTo(7);
            }
        }
    }

    private static void awaitReady(PagePool pool, long bytes) throws InterruptedException {
        assertThat(pool.awaitReady(bytes, Duration.ofSeconds(30))).as("refill brought %d bytes ready", bytes).isTrue();
        assertThat(pool.stats().readyBytes()).isEqualTo(bytes);
    }

    /**
     * Returns once thread {@code tid} is blocked in a system call on {@code fd}, as the kernel reports
     * it ({@code /proc/self/task/TID/syscall}: the call's number, then its arguments, the descriptor
     * first). Nothing signals that moment, so the kernel's view is read until it shows it.
     */
    private static void awaitBlockedReading(int tid, int fd) throws java.io.IOException {
        Path syscall = Path.of("/proc/self/task/" + tid + "/syscall");
        String descriptor = "0x" + Integer.toHexString(fd);
        long patience = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            String[] fields = java.nio.file.Files.readString(syscall).trim().split(" ");
            if (fields.length > 1 && !fields[0].equals("-1") && fields[1].equals(descriptor)) {
                return;
            }
            if (System.nanoTime() > patience) {
                throw new AssertionError("thread " + tid + " never blocked reading descriptor " + fd + ": " + String.join(" ", fields));
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void manyThreadsTakingAndReturningLeaveTheAccountsBalanced() throws Exception {
        try (PagePool pool = PagePool.open(settings().withMaximumBytes(32 * CHUNK))) {
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < 8; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 50; i++) {
                            long size = (1 + ThreadLocalRandom.current().nextInt(3)) * CHUNK;
                            try (Region region = pool.take(size)) {
                                MemorySegment memory = region.segment();
                                assertThat(memory.get(ValueLayout.JAVA_LONG, 0)).isZero();
                                assertThat(memory.get(ValueLayout.JAVA_LONG, size - 8)).isZero();
                                memory.set(ValueLayout.JAVA_LONG, 0, Thread.currentThread().threadId());
                                memory.set(ValueLayout.JAVA_LONG, size - 8, -1L);
                                assertThat(memory.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(Thread.currentThread().threadId());
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            assertThat(failures).isEmpty();
            PoolStats stats = pool.stats();
            assertThat(stats.inUseBytes()).isZero();
            assertThat(stats.populatingBytes()).isZero();
            assertThat(stats.readyBytes()).isEqualTo(stats.chunksPopulated() * CHUNK);
            assertThat(stats.takes()).isEqualTo(400);
            assertThat(stats.wipes()).isEqualTo(400);
        }
    }

    @Test
    void closingThePoolUnmapsRegionsStillHandedOut() {
        PagePool pool = PagePool.open(settings());
        Region region = pool.take(CHUNK);
        MemorySegment kept = region.segment();
        long address = kept.address();
        pool.close();
        assertThat(region.isOpen()).isFalse();
        assertThatThrownBy(() -> kept.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThat(Smaps.find(SMAPS, address).map(MapsEntry::isSecretMemory)).isNotEqualTo(java.util.Optional.of(true));
        assertThatThrownBy(() -> pool.take(CHUNK)).isInstanceOf(XpfoClosedException.class);
    }

    @Test
    void metricsNameEveryCounterTheServiceExports() {
        try (PagePool pool = PagePool.open(settings())) {
            pool.take(CHUNK).close();
            assertThat(pool.metrics()).extracting(Metric::name).contains(
                    "xpfo_pool_ready_bytes", "xpfo_pool_in_use_bytes", "xpfo_pool_peak_in_use_bytes",
                    "xpfo_pool_chunks_populated_total", "xpfo_pool_cold_takes_total", "xpfo_pool_wipes_total");
            assertThat(pool.metrics()).filteredOn(m -> m.name().equals("xpfo_pool_peak_in_use_bytes"))
                    .extracting(Metric::value).containsExactly(CHUNK);
            assertThat(pool.metrics()).filteredOn(m -> m.name().endsWith("_total")).extracting(Metric::kind)
                    .containsOnly(Metric.Kind.COUNTER);
        }
    }

    private static void fillAndCheck(MemorySegment memory) {
        byte[] pattern = new byte[(int) memory.byteSize()];
        ThreadLocalRandom.current().nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, memory, 0, pattern.length);
        assertThat(memory.mismatch(MemorySegment.ofArray(pattern))).isEqualTo(-1);
    }
}
