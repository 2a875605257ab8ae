// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.host.CallInterrupts;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.pool.Region;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Taking a large region and touching every page: from a warm pool (the chunks were populated before the
 * clock started), from an empty pool (a cold take populates on demand), and anonymous memory. Rows
 * {@code bulk.*} in ns per 4 KiB page, and the cross-CPU function-call interrupts each caused per MiB,
 * from the kernel's own counter: the TLB-flush IPIs that cached pages avoid.
 *
 * <p>{@code bulk.warm} is the first take from a freshly warmed pool, so it includes moving every chunk
 * into one contiguous span ({@code mremap}). {@code bulk.warm_reuse} takes the same size again after
 * returning it, which the pool serves without any system call.
 */
final class BulkSuite implements Suite {
    private final long bytes;

    BulkSuite(long bytes) {
        this.bytes = bytes;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        System.out.printf(Locale.ROOT, "bulk: take and touch %s, %d rounds + warm-up:", Bytes.format(bytes), rounds);
        PoolSettings settings = PoolSettings.defaults().withMaximumBytes(2 * bytes);
        Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
        rows.put("bulk.warm", measured -> {
            try (PagePool pool = PagePool.open(settings)) {
                pool.warm(bytes, PopulateProgress.NONE);
                takeAndTouch(results, "bulk.warm", measured, pool);
                takeAndTouch(results, "bulk.warm_reuse", measured, pool);
            }
        });
        rows.put("bulk.cold", measured -> {
            try (PagePool pool = PagePool.open(settings)) {
                takeAndTouch(results, "bulk.cold", measured, pool);
            }
        });
        rows.put("bulk.anon", measured -> {
            long before = CallInterrupts.total();
            long start = System.nanoTime();
            try (Mapping mapping = Mapping.anonymous(bytes)) {
                Bench.touch(mapping.segment());
                record(results, "bulk.anon", measured, System.nanoTime() - start, CallInterrupts.total() - before);
            }
        });
        Suite.interleave(rounds, rows);

        double warmVsAnon = results.ratio("bulk.warm / bulk.anon", "bulk.warm", "bulk.anon");
        double coldVsWarm = results.ratio("bulk.cold / bulk.warm (warm is this much faster)", "bulk.cold", "bulk.warm");
        double ipis = results.ratio("bulk.warm.ipis_per_mib / bulk.cold.ipis_per_mib", "bulk.warm.ipis_per_mib",
                "bulk.cold.ipis_per_mib");
        results.ratio("bulk.warm_reuse / bulk.anon", "bulk.warm_reuse", "bulk.anon");
        results.verdict(String.format(Locale.ROOT, "bulk: warm within 1.2x of anon: %s (%.2fx); warm at least 4x faster than cold: %s (%.1fx); "
                        + "warm IPIs under 1%% of cold: %s (%.2f%%).",
                warmVsAnon <= 1.2 ? "met" : "MISSED", warmVsAnon, coldVsWarm >= 4 ? "met" : "MISSED", coldVsWarm,
                ipis < 0.01 ? "met" : "MISSED", 100 * ipis));
    }

    /** Times a take of {@code bytes} and a write to every page; the return (wipe) is not timed. */
    private void takeAndTouch(Results results, String row, boolean measured, PagePool pool) {
        long before = CallInterrupts.total();
        long start = System.nanoTime();
        Region region = pool.take(bytes);
        Bench.touch(region.segment());
        long nanos = System.nanoTime() - start;
        long interrupts = CallInterrupts.total() - before;
        region.close();
        record(results, row, measured, nanos, interrupts);
    }

    private void record(Results results, String row, boolean measured, long nanos, long interrupts) {
        if (measured) {
            results.add(row, "ns/page", nanos / (double) (bytes / Bench.PAGE));
            results.add(row + ".ipis_per_mib", "IPIs/MiB", interrupts / (bytes / (double) Bytes.MIB));
        }
    }
}
