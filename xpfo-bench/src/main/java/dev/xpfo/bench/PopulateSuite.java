// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.host.CallInterrupts;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoFile;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Sizing and populating secret memory with {@link XpfoFile} on 1 and 2 threads, next to the same done by
 * the C program calling {@code memfd_secret} directly, and next to anonymous memory touched page by page.
 * Rows {@code populate.*}, ns per 4 KiB page, with the IPIs each caused.
 */
final class PopulateSuite implements Suite {
    private final long bytes;
    private final CBaseline c;

    PopulateSuite(long bytes, CBaseline c) {
        this.bytes = bytes;
        this.c = c;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        long pages = bytes / Bench.PAGE;
        System.out.printf(Locale.ROOT, "populate: %s (%d pages) per run, %d rounds + warm-up:", Bytes.format(bytes), pages, rounds);
        Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
        rows.put("populate.c_memfd_secret", measured -> record(results, "populate.c_memfd_secret", measured,
                () -> c.nanos("populate", Long.toString(bytes))));
        rows.put("populate.xpfo", measured -> record(results, "populate.xpfo", measured, () -> xpfo(1)));
        rows.put("populate.xpfo_2_threads", measured -> record(results, "populate.xpfo_2_threads", measured, () -> xpfo(2)));
        rows.put("populate.anon", measured -> record(results, "populate.anon", measured, this::anonymous));
        Suite.interleave(rounds, rows);

        double ratio = results.ratio("populate.xpfo / populate.c_memfd_secret", "populate.xpfo", "populate.c_memfd_secret");
        double threads = results.ratio("populate.xpfo_2_threads / populate.xpfo", "populate.xpfo_2_threads", "populate.xpfo");
        results.ratio("populate.c_memfd_secret / populate.anon", "populate.c_memfd_secret", "populate.anon");
        results.verdict(String.format(Locale.ROOT, "populate: xpfo within 1.10x of C: %s (%.2fx). Populating on 2 threads %s (%.2fx of 1 thread).",
                ratio <= 1.10 ? "yes" : "NO", ratio, threads < 0.95 ? "helps" : "does not help", threads));
    }

    private interface Timed {
        long nanos() throws Exception;
    }

    private void record(Results results, String row, boolean measured, Timed timed) throws Exception {
        long before = CallInterrupts.total();
        long nanos = timed.nanos();
        long after = CallInterrupts.total();
        if (measured) {
            results.add(row, "ns/page", nanos / (double) (bytes / Bench.PAGE));
            if (before >= 0) {
                results.add(row + ".ipis_per_mib", "IPIs/MiB", (after - before) / (bytes / (double) Bytes.MIB));
            }
        }
    }

    private long xpfo(int threads) {
        long start = System.nanoTime();
        try (XpfoFile file = XpfoFile.create(bytes)) {
            file.populate(threads, PopulateProgress.NONE);
            return System.nanoTime() - start;
        }
    }

    private long anonymous() {
        long start = System.nanoTime();
        try (Mapping mapping = Mapping.anonymous(bytes)) {
            Bench.touch(mapping.segment());
            return System.nanoTime() - start;
        }
    }
}
