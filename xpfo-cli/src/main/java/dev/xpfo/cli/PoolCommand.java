// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.host.CallInterrupts;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.host.PhysicalMemory;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.pool.Isolation;
import dev.xpfo.pool.IsolationPolicy;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.pool.PoolStats;
import dev.xpfo.pool.Region;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.Callable;

/** {@code xpfo pool}: warms a pool of direct-map-free memory in this process and shows what it cost. */
@Command(name = "pool", mixinStandardHelpOptions = true,
        description = {"Warms a pool of memory removed from the kernel's direct map in this process, with a progress "
                + "bar, then takes memory from it and touches every page, and prints the pool's state: what the "
                + "populate cost (time, cross-CPU interrupts) and that the take from warm memory populated nothing.",
                "The pool lives only as long as this command; `xpfo serve` keeps one for other processes."})
final class PoolCommand implements Callable<Integer> {
    @Option(names = "--warm", defaultValue = "64M", paramLabel = "BYTES", converter = SizeConverter.class,
            description = "How much to populate ahead of demand (default: ${DEFAULT-VALUE}).")
    long warm;

    @Option(names = "--take", paramLabel = "BYTES", converter = SizeConverter.class,
            description = "Then take this much from the pool and touch every page (default: as much as --warm).")
    Long take;

    @Option(names = "--chunk", defaultValue = "2M", paramLabel = "BYTES", converter = SizeConverter.Chunk.class,
            description = "The pool's unit of populating and taking, a multiple of 4K (default: ${DEFAULT-VALUE}).")
    long chunk;

    @Option(names = "--threads", paramLabel = "N", converter = CountConverter.class, description = "Populating threads (default: up to 4, one per CPU).")
    Integer threads;

    @Option(names = "--allow-locked-only", description = "If the kernel has no secret memory, fall back to locked "
            + "ordinary memory (still in the direct map) instead of failing. Announced loudly.")
    boolean allowLockedOnly;

    @Option(names = "--json", description = "Print JSON for machines instead of lines (no progress bar).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        long warmBytes = warm;
        long takeBytes = take == null ? warmBytes : take;
        // The pool's own ceiling (PoolSettings' automatic maximum) and this process's memlock limit, checked
        // before anything is populated and said in this command's options.
        long maximum = PhysicalMemory.totalBytes() / 4;
        String tooLarge = Bytes.roundUp(warmBytes, chunk) > maximum ? "--warm " + Bytes.format(warmBytes)
                : Bytes.roundUp(takeBytes, chunk) > maximum ? "--take " + Bytes.format(takeBytes) : null;
        if (tooLarge != null) {
            throw Failures.usage(spec, tooLarge + " is more than the pool may hold: a quarter of this machine's memory ("
                    + Bytes.format(maximum) + ")");
        }
        long held = Bytes.roundUp(Math.max(warmBytes, takeBytes), chunk);
        MemlockLimit memlock = MemlockLimit.current();
        if (memlock.wouldRefuse(held)) {
            // Every chunk of the pool stays mapped in this process, so all of it counts.
            throw new MemlockLimitException(held, memlock.soft(), memlock.hard(), memlock.lockedBytes());
        }
        PoolSettings settings = PoolSettings.defaults().withChunkBytes(chunk)
                .withPolicy(allowLockedOnly ? IsolationPolicy.ALLOW_LOCKED_ONLY : IsolationPolicy.REQUIRE_DIRECT_MAP_REMOVAL);
        if (threads != null) {
            settings = settings.withPopulateThreads(threads);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (PagePool pool = PagePool.open(settings)) {
            long interruptsBefore = CallInterrupts.total();
            long warmStart = System.nanoTime();
            if (json) {
                pool.warm(warmBytes, PopulateProgress.NONE);
            } else {
                WarmingBar.show("warming", warmBytes, progress -> pool.warm(warmBytes, progress));
            }
            long warmNanos = System.nanoTime() - warmStart;
            long warmInterrupts = CallInterrupts.total() - interruptsBefore;
            PoolStats warmed = pool.stats();

            long takeStart = System.nanoTime();
            long takeInterruptsBefore = CallInterrupts.total();
            long populatedBefore = warmed.chunksPopulated();
            long takeNanos;
            long takeInterrupts;
            try (Region region = pool.take(takeBytes)) {
                touch(region.segment());
                takeNanos = System.nanoTime() - takeStart;
                takeInterrupts = CallInterrupts.total() - takeInterruptsBefore;
            }
            PoolStats after = pool.stats();
            Outcome outcome = new Outcome(pool.isolation(), pool.fallbackReason(), warmBytes, warmNanos, warmInterrupts,
                    takeBytes, takeNanos, takeInterrupts, after.chunksPopulated() - populatedBefore, after);
            out.println(json ? Json.write(outcome.toJson()) : outcome.lines());
        }
        out.flush();
        return 0;
    }

    /** Writes one byte per page, as a user of the memory would on first use. */
    private static void touch(MemorySegment memory) {
        for (long offset = 0; offset < memory.byteSize(); offset += PageSize.BYTES) {
            memory.set(ValueLayout.JAVA_BYTE, offset, (byte) 1);
        }
    }

    /** What the command measured, printed for people or machines. */
    private record Outcome(Isolation isolation, String fallbackReason, long warmBytes, long warmNanos, long warmInterrupts,
                           long takeBytes, long takeNanos, long takeInterrupts, long takePopulatedChunks, PoolStats stats) {

        String lines() {
            StringBuilder t = new StringBuilder();
            t.append("isolation            ").append(isolation == Isolation.DIRECT_MAP_REMOVED
                    ? "DIRECT_MAP_REMOVED: the pool's pages are gone from the kernel's direct map"
                    : "LOCKED_ONLY: STILL IN THE KERNEL'S DIRECT MAP (" + fallbackReason + ")").append('\n');
            t.append(String.format("warmed               %s in %.0f ms (%.1f us per 4 KiB page), %s cross-CPU call interrupts (%s per MiB)%n",
                    Bytes.format(warmBytes), warmNanos / 1e6, perPage(warmNanos, warmBytes) / 1e3,
                    count(warmInterrupts), perMib(warmInterrupts, warmBytes)));
            t.append(String.format("took and touched     %s in %.1f ms (%.2f us per page), %d chunk(s) populated on demand, "
                            + "%s call interrupts (%s per MiB)%n",
                    Bytes.format(takeBytes), takeNanos / 1e6, perPage(takeNanos, takeBytes) / 1e3, takePopulatedChunks,
                    count(takeInterrupts), perMib(takeInterrupts, takeBytes)));
            t.append(String.format("pool                 %s ready, %s in use, peak %s, maximum %s (%s), chunk %s%n",
                    Bytes.format(stats.readyBytes()), Bytes.format(stats.inUseBytes()), Bytes.format(stats.peakInUseBytes()),
                    Bytes.format(stats.maximumBytes()), stats.maximumSetBy(), Bytes.format(stats.chunkBytes())));
            t.append(String.format("counters             %d chunks populated, %d takes, %d cold, %d wipes",
                    stats.chunksPopulated(), stats.takes(), stats.coldTakes(), stats.wipes()));
            return t.toString();
        }

        ObjectNode toJson() {
            ObjectNode root = Json.object();
            root.put("isolation", isolation.name());
            root.put("fallback_reason", fallbackReason);
            ObjectNode warmed = root.putObject("warm");
            warmed.put("bytes", warmBytes);
            warmed.put("nanos", warmNanos);
            warmed.put("ns_per_page", perPage(warmNanos, warmBytes));
            warmed.put("call_interrupts", warmInterrupts);
            ObjectNode taken = root.putObject("take");
            taken.put("bytes", takeBytes);
            taken.put("nanos", takeNanos);
            taken.put("ns_per_page", perPage(takeNanos, takeBytes));
            taken.put("chunks_populated", takePopulatedChunks);
            taken.put("call_interrupts", takeInterrupts);
            ObjectNode pool = root.putObject("pool");
            pool.put("ready_bytes", stats.readyBytes());
            pool.put("in_use_bytes", stats.inUseBytes());
            pool.put("peak_in_use_bytes", stats.peakInUseBytes());
            pool.put("maximum_bytes", stats.maximumBytes());
            pool.put("maximum_set_by", stats.maximumSetBy().name());
            pool.put("chunk_bytes", stats.chunkBytes());
            pool.put("chunks_populated", stats.chunksPopulated());
            pool.put("takes", stats.takes());
            pool.put("cold_takes", stats.coldTakes());
            pool.put("wipes", stats.wipes());
            return root;
        }

        private static double perPage(long nanos, long bytes) {
            return nanos / (double) Math.max(1, PageSize.pagesIn(bytes));
        }

        private static String count(long interrupts) {
            return interrupts < 0 ? "unknown" : Long.toString(interrupts);
        }

        private static String perMib(long interrupts, long bytes) {
            return interrupts < 0 ? "unknown" : String.format("%.1f", interrupts / (bytes / (double) Bytes.MIB));
        }
    }
}
