// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.crypto.CryptoHeapException;
import dev.xpfo.crypto.libcrypto.HeapLibrary;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.host.SecretMemoryFiles;
import dev.xpfo.metrics.Metric;
import dev.xpfo.pool.PoolSettings;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** libcrypto's heap, installed in this JVM: where its allocations land and what the allocator promises. */
class CryptoHeapTest {
    @BeforeAll
    static void install() {
        CryptoHeap.ensureInstalled();
    }

    @Test
    void libcryptosAllocationsLieInSecretMemoryThatProcSelfMemCannotRead() throws IOException {
        for (long size : new long[] {1, 48, 200, 16384, 20_000}) {
            MemorySegment block = LibCrypto.cryptoMalloc(size);
            try {
                assertThat(block.address()).isNotZero();
                MapsEntry mapping = mappingOf(block.address());
                assertThat(SecretMemoryFiles.isSecretMemory(mapping)).as("%d bytes in %s", size, mapping).isTrue();
                assertThatThrownBy(() -> readThroughProcSelfMem(block.address())).as("%d bytes", size)
                        .isInstanceOf(IOException.class).hasMessageContaining("Input/output error");
            } finally {
                LibCrypto.cryptoFree(block);
            }
        }
    }

    @Test
    void procSelfMemReadsOrdinaryMemory() throws IOException {
        // the control: the read above fails because of the memory, not because of how it is read
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ordinary = arena.allocate(200);
            ordinary.set(JAVA_BYTE, 0, (byte) 42);
            assertThat(readThroughProcSelfMem(ordinary.address())).isEqualTo((byte) 42);
            assertThat(SecretMemoryFiles.isSecretMemory(mappingOf(ordinary.address()))).isFalse();
        }
    }

    @Test
    void aFreedBlockReadsZero() {
        for (long size : new long[] {16, 100, 4000, 16384, 40_000}) {
            MemorySegment block = allocated(LibCrypto.cryptoMalloc(size), size);
            block.fill((byte) 0x5A);
            LibCrypto.cryptoFree(block);
            assertThat(block.toArray(JAVA_BYTE)).as("%d bytes after free", size).containsOnly((byte) 0);
        }
    }

    @Test
    void reallocKeepsTheContentsAndWipesWhatItLeaves() {
        MemorySegment small = allocated(HeapLibrary.realloc(MemorySegment.NULL, 24), 24);
        small.fill((byte) 7);
        MemorySegment grown = allocated(HeapLibrary.realloc(small, 3000), 3000);
        assertThat(grown.address()).isNotEqualTo(small.address());
        assertThat(grown.asSlice(0, 24).toArray(JAVA_BYTE)).containsOnly((byte) 7);
        assertThat(small.toArray(JAVA_BYTE)).as("the old block, freed").containsOnly((byte) 0);
        grown.fill((byte) 9);
        MemorySegment shrunk = allocated(HeapLibrary.realloc(grown, 1000), 3000);
        assertThat(shrunk.address()).isEqualTo(grown.address());
        assertThat(shrunk.asSlice(1000).toArray(JAVA_BYTE)).as("the tail given up").containsOnly((byte) 0);
        long before = HeapLibrary.inUseBytes();
        assertThat(HeapLibrary.realloc(shrunk, 0)).isEqualTo(MemorySegment.NULL);
        assertThat(HeapLibrary.inUseBytes()).isLessThan(before);
        assertThat(shrunk.toArray(JAVA_BYTE)).containsOnly((byte) 0);
    }

    @Test
    void reallocOfALargeSpanMovesItWhole() {
        MemorySegment span = allocated(HeapLibrary.malloc(20_000), 20_000);
        span.fill((byte) 0x31);
        MemorySegment bigger = allocated(HeapLibrary.realloc(span, 300_000), 300_000);
        assertThat(bigger.asSlice(0, 20_000).toArray(JAVA_BYTE)).containsOnly((byte) 0x31);
        assertThat(span.toArray(JAVA_BYTE)).as("the span it left").containsOnly((byte) 0);
        bigger.fill((byte) 0x32);
        MemorySegment smaller = allocated(HeapLibrary.realloc(bigger, 100), 300_000);
        assertThat(smaller.address()).as("a shrink stays in place").isEqualTo(bigger.address());
        assertThat(smaller.asSlice(0, 100).toArray(JAVA_BYTE)).containsOnly((byte) 0x32);
        assertThat(smaller.asSlice(100).toArray(JAVA_BYTE)).as("the tail given up").containsOnly((byte) 0);
        MemorySegment small = allocated(HeapLibrary.realloc(smaller, 300_001), 300_001);
        assertThat(small.asSlice(0, 100).toArray(JAVA_BYTE)).containsOnly((byte) 0x32);
        assertThat(small.address()).as("300,001 bytes fit the 74-page span").isEqualTo(smaller.address());
        HeapLibrary.free(small);
        assertThat(small.toArray(JAVA_BYTE)).containsOnly((byte) 0);
    }

    @Test
    void aBlockGrownInPlaceIsWipedWhole() {
        MemorySegment block = allocated(HeapLibrary.malloc(20), 32);
        MemorySegment grown = allocated(HeapLibrary.realloc(block, 32), 32);
        assertThat(grown.address()).as("32 bytes fit the 32-byte class").isEqualTo(block.address());
        grown.fill((byte) 0x77);
        HeapLibrary.free(grown);
        assertThat(grown.toArray(JAVA_BYTE)).containsOnly((byte) 0);
    }

    @Test
    void theMetricsFollowTheAllocator() {
        MemorySegment block = HeapLibrary.malloc(1000);
        try {
            assertThat(CryptoHeap.metricSource().metrics())
                    .filteredOn(m -> m.name().equals("xpfo_crypto_heap_in_use_bytes")).singleElement()
                    .extracting(Metric::value).isEqualTo(HeapLibrary.inUseBytes());
            assertThat(CryptoHeap.metricSource().metrics()).extracting(Metric::name).contains(
                    "xpfo_crypto_heap_arena_bytes", "xpfo_crypto_heap_foreign_frees_total",
                    "xpfo_crypto_heap_failed_mallocs_total", "xpfo_crypto_heap_grow_requests_total",
                    "xpfo_crypto_heap_unused_bytes", "xpfo_crypto_heap_refills_ahead_total", "xpfo_crypto_heap_refill_failures_total");
        } finally {
            HeapLibrary.free(block);
        }
    }

    /** Without the property the heap may hold 1 GiB: a bound even for a user who may lock without limit (root). */
    @Test
    void theHeapHasAMaximumByDefault() {
        CryptoHeap.ensureInstalled();
        assertThat(CryptoHeap.stats().maxBytes()).isEqualTo(CryptoHeap.DEFAULT_MAX_BYTES).isEqualTo(1L << 30)
                .isGreaterThanOrEqualTo(CryptoHeap.stats().arenaBytes());
        assertThat(CryptoHeap.metricSource().metrics()).filteredOn(m -> m.name().equals("xpfo_crypto_heap_max_bytes"))
                .singleElement().extracting(Metric::value).isEqualTo(1L << 30);
    }

    @Test
    void theMaximumIsReadInBytesOrWithASuffixAndAtLeastOneChunk() {
        String before = System.getProperty(CryptoHeap.MAX_BYTES_PROPERTY);
        try {
            System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, "512m");
            assertThat(CryptoHeap.maxBytes()).isEqualTo(512L << 20);
            System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, "2g");
            assertThat(CryptoHeap.maxBytes()).isEqualTo(2L << 30);
            System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, "8388608");
            assertThat(CryptoHeap.maxBytes()).isEqualTo(8L << 20);
            for (String wrong : List.of("1m", "lots", "-4m", "", "99999999999g")) {
                System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, wrong);
                assertThatThrownBy(CryptoHeap::maxBytes).as(wrong).isInstanceOf(CryptoHeapException.class)
                        .hasMessageContaining("is not a size of at least one chunk").hasMessageContaining("Remedy");
            }
        } finally {
            if (before == null) {
                System.clearProperty(CryptoHeap.MAX_BYTES_PROPERTY);
            } else {
                System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, before);
            }
        }
    }

    @Test
    void mallocOfNothingIsNull() {
        assertThat(HeapLibrary.malloc(0)).isEqualTo(MemorySegment.NULL);
    }

    @Test
    void aForeignPointerIsCountedAndNeverWritten() {
        long foreign = HeapLibrary.foreignFrees();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment notOurs = arena.allocate(64);
            notOurs.fill((byte) 3);
            HeapLibrary.free(notOurs);
            assertThat(HeapLibrary.realloc(notOurs, 128)).isEqualTo(MemorySegment.NULL);
            assertThat(notOurs.toArray(JAVA_BYTE)).containsOnly((byte) 3);
        }
        assertThat(HeapLibrary.foreignFrees() - foreign).isEqualTo(2);
    }

    @Test
    void aDoubleFreeIsCountedNotFollowed() {
        MemorySegment block = HeapLibrary.malloc(32);
        HeapLibrary.free(block);
        long foreign = HeapLibrary.foreignFrees();
        long inUse = HeapLibrary.inUseBytes();
        HeapLibrary.free(block);
        assertThat(HeapLibrary.foreignFrees() - foreign).isEqualTo(1);
        assertThat(HeapLibrary.inUseBytes()).isEqualTo(inUse);
    }

    @Test
    void freedLargeSpansMergeWithTheirNeighbours() {
        // 40 spans of 5 pages each, freed: one request of all 200 pages must be able to use them again
        List<MemorySegment> spans = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            spans.add(allocated(HeapLibrary.malloc(20_000), 20_000));
        }
        long low = spans.stream().mapToLong(MemorySegment::address).min().orElseThrow();
        long high = spans.stream().mapToLong(MemorySegment::address).max().orElseThrow() + 20_000;
        spans.forEach(HeapLibrary::free);
        long bytes = 40 * 5 * 4096 - 16;
        MemorySegment whole = allocated(HeapLibrary.malloc(bytes), bytes);
        try {
            // without merging no free span is that big, so the block would come from elsewhere
            assertThat(whole.address() < high && whole.address() + bytes > low)
                    .as("0x%x..0x%x overlaps the freed 0x%x..0x%x", whole.address(), whole.address() + bytes, low, high).isTrue();
            assertThat(whole.toArray(JAVA_BYTE)).as("merged spans, headers included, are zero").containsOnly((byte) 0);
        } finally {
            HeapLibrary.free(whole);
        }
    }

    @Test
    void mallocAsksForAChunkWhenNoArenaCanHoldTheBlock() throws IOException {
        // bigger than a pool chunk: no refill ahead (one chunk each) can serve it, only malloc's grow upcall
        CryptoHeapStats before = CryptoHeap.stats();
        long bytes = PoolSettings.DEFAULT_CHUNK_BYTES + 1;
        MemorySegment block = allocated(HeapLibrary.malloc(bytes), bytes);
        try {
            CryptoHeapStats after = CryptoHeap.stats();
            assertThat(after.growRequests()).isGreaterThan(before.growRequests());
            assertThat(after.arenaBytes()).isGreaterThanOrEqualTo(before.arenaBytes() + 2 * PoolSettings.DEFAULT_CHUNK_BYTES);
            assertThat(after.failedMallocs()).isEqualTo(before.failedMallocs());
            assertThat(SecretMemoryFiles.isSecretMemory(mappingOf(block.address() + bytes - 1))).isTrue();
        } finally {
            HeapLibrary.free(block);
        }
    }

    /**
     * Allocating two chunks' worth past what the arenas hold: whenever the uncarved bytes fall below the
     * low watermark, the refill thread adds a chunk before malloc has to ask (this test waits for it before
     * the next block, so the outcome does not depend on who is faster). No grow request, and every byte
     * the arenas gained is a refill's chunk.
     */
    @Test
    void allocatingPastTheChunksIsServedByRefillsAheadWithoutMallocAsking() throws InterruptedException {
        long watermark = HeapLibrary.lowWatermark();
        assertThat(watermark).as("refill ahead is on").isPositive();
        awaitRefilled(watermark, CryptoHeap.stats());
        CryptoHeapStats before = CryptoHeap.stats();
        List<MemorySegment> held = new ArrayList<>();
        try {
            long bytes = 20_000; // a 5-page span carved from an arena (no freed span of 5 pages is left: see below)
            for (long got = 0; got < before.arenaBytes() + 2 * PoolSettings.DEFAULT_CHUNK_BYTES; got += bytes) {
                held.add(allocated(HeapLibrary.malloc(bytes), bytes));
                awaitRefilled(watermark, before);
            }
        } finally {
            held.forEach(HeapLibrary::free);
        }
        CryptoHeapStats after = CryptoHeap.stats();
        assertThat(after.refillsAhead() - before.refillsAhead()).isGreaterThanOrEqualTo(2);
        assertThat(after.growRequests()).as("malloc never had to ask").isEqualTo(before.growRequests());
        assertThat(after.arenaBytes() - before.arenaBytes())
                .isEqualTo((after.refillsAhead() - before.refillsAhead()) * PoolSettings.DEFAULT_CHUNK_BYTES);
        assertThat(after.failedMallocs()).isEqualTo(before.failedMallocs());
        assertThat(after.refillFailures()).isEqualTo(before.refillFailures());
    }

    /** Waits (no deadline: the test's timeout is the limit) until the refill thread has lifted the uncarved bytes again. */
    private static void awaitRefilled(long watermark, CryptoHeapStats start) throws InterruptedException {
        while (HeapLibrary.unusedBytes() < watermark) {
            assertThat(CryptoHeap.stats().refillFailures()).as("refills that failed").isEqualTo(start.refillFailures());
            Thread.sleep(1);
        }
    }

    /** Random allocations and frees of 1 B to 46 KiB through libcrypto, each block checked before it is freed. */
    static Void churn(int seed) {
        Random random = new Random(seed);
        MemorySegment[] live = new MemorySegment[64];
        byte[] marks = new byte[live.length];
        for (int i = 0; i < 20_000; i++) {
            int slot = random.nextInt(live.length);
            if (live[slot] != null) {
                MemorySegment block = live[slot];
                assertThat(block.get(JAVA_BYTE, 0)).isEqualTo(marks[slot]);
                assertThat(block.get(JAVA_BYTE, block.byteSize() - 1)).isEqualTo(marks[slot]);
                HeapLibrary.free(block);
                live[slot] = null;
            } else {
                long size = random.nextInt(10) == 0 ? 16_385 + random.nextInt(30_000) : 1 + random.nextInt(2048);
                MemorySegment block = allocated(LibCrypto.cryptoMalloc(size), size);
                marks[slot] = (byte) random.nextInt();
                block.fill(marks[slot]);
                live[slot] = block;
            }
        }
        for (MemorySegment block : live) {
            if (block != null) {
                LibCrypto.cryptoFree(block);
            }
        }
        return null;
    }

    /** The block as a segment of {@code size} bytes; fails (rather than touching address 0) if malloc gave NULL. */
    private static MemorySegment allocated(MemorySegment block, long size) {
        if (block.address() == 0) {
            throw new AssertionError("malloc of " + size + " bytes returned NULL: " + CryptoHeap.stats());
        }
        return block.reinterpret(size);
    }

    static MapsEntry mappingOf(long address) throws IOException {
        return new ProcessDirectory(ProcessHandle.current().pid()).maps().stream()
                .filter(m -> m.start() <= address && address < m.end())
                .findFirst().orElseThrow(() -> new AssertionError("no mapping holds 0x" + Long.toHexString(address)));
    }

    private static byte readThroughProcSelfMem(long address) throws IOException {
        try (FileChannel mem = FileChannel.open(Path.of("/proc/self/mem"))) {
            ByteBuffer one = ByteBuffer.allocate(1);
            mem.read(one, address);
            return one.get(0);
        }
    }
}
