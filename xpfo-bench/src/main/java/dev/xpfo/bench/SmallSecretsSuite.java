// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.pool.PagePool;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The life of one 32-byte secret: allocate, write 32 bytes, free. xpfo's {@link Secret} on 1 and 2
 * threads, libsodium's {@code sodium_malloc}/{@code sodium_free}, a secret memory file per secret from C,
 * and a plain heap array as the floor. Rows {@code small.*}, ns per operation.
 */
final class SmallSecretsSuite implements Suite {
    private static final int SECRET_BYTES = 32;
    /** Keeps the JIT from removing the heap row's allocation. */
    static Object heapSink;

    private final int fastOps;
    private final int slowOps;
    private final CBaseline c;
    private ExecutorService helpers;

    SmallSecretsSuite(int fastOps, int slowOps, CBaseline c) {
        this.fastOps = fastOps;
        this.slowOps = slowOps;
        this.c = c;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        System.out.printf(Locale.ROOT, "small: %d ops per round for xpfo and heap, %d for sodium and memfd_secret, %d rounds + warm-up:",
                fastOps, slowOps, rounds);
        MemorySegment source = Arena.global().allocate(SECRET_BYTES);
        source.fill((byte) 0x5a);
        boolean sodium = LibSodium.available();
        if (!sodium) {
            results.skipped("small.sodium", "libsodium (libsodium.so.23) not found; ./xpfo bench installs Debian's libsodium23");
        }
        try (PagePool pool = PagePool.open(); SecretStore store = SecretStore.open(pool);
             ExecutorService helperThreads = Executors.newFixedThreadPool(1)) {
            helpers = helperThreads;
            Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
            rows.put("small.xpfo", measured -> record(results, "small.xpfo", measured, fastOps, xpfo(store, source, 1)));
            rows.put("small.xpfo_2_threads", measured -> record(results, "small.xpfo_2_threads", measured, 2L * fastOps,
                    xpfo(store, source, 2)));
            if (sodium) {
                rows.put("small.sodium", measured -> record(results, "small.sodium", measured, slowOps, sodium(source)));
            }
            rows.put("small.memfd_secret", measured -> record(results, "small.memfd_secret", measured, slowOps,
                    c.nanos("small", Integer.toString(slowOps))));
            rows.put("small.heap", measured -> record(results, "small.heap", measured, fastOps, heap()));
            Suite.interleave(rounds, rows);
        }
        double xpfo = results.median("small.xpfo");
        double speedup = results.ratio("small.sodium / small.xpfo (xpfo is this much faster)", "small.sodium", "small.xpfo");
        results.ratio("small.memfd_secret / small.xpfo", "small.memfd_secret", "small.xpfo");
        results.ratio("small.xpfo / small.heap", "small.xpfo", "small.heap");
        double scaling = results.ratio("small.xpfo / small.xpfo_2_threads (throughput gain on 2 threads)",
                "small.xpfo", "small.xpfo_2_threads");
        results.verdict(String.format(Locale.ROOT, "small: xpfo %.0f ns per secret, target <= 200 ns: %s; %s than sodium (target 100x): %s; "
                        + "2 threads give %.2fx the throughput of 1.",
                xpfo, xpfo <= 200 ? "met" : "MISSED", Double.isNaN(speedup) ? "not compared" : String.format(Locale.ROOT, "%.0fx faster", speedup),
                Double.isNaN(speedup) ? "sodium missing" : speedup >= 100 ? "met" : "MISSED", scaling));
    }

    private static void record(Results results, String row, boolean measured, long ops, long nanos) {
        if (measured) {
            results.add(row, "ns/op", nanos / (double) ops);
        }
    }

    /**
     * Wall time for {@code threads} threads (this one and long-lived helpers, as in a server's thread
     * pool) each doing {@code fastOps} allocate-write-free cycles.
     */
    private long xpfo(SecretStore store, MemorySegment source, int threads) throws Exception {
        Runnable work = () -> {
            for (int i = 0; i < fastOps; i++) {
                Secret secret = store.allocate(SECRET_BYTES);
                secret.write(0, source);
                secret.close();
            }
        };
        long start = System.nanoTime();
        List<Future<?>> started = new ArrayList<>();
        for (int t = 1; t < threads; t++) {
            started.add(helpers.submit(work));
        }
        work.run();
        for (Future<?> helper : started) {
            helper.get();
        }
        return System.nanoTime() - start;
    }

    private long sodium(MemorySegment source) {
        long start = System.nanoTime();
        for (int i = 0; i < slowOps; i++) {
            MemorySegment pointer = LibSodium.malloc(SECRET_BYTES);
            if (pointer.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("sodium_malloc returned NULL (memlock limit?)");
            }
            MemorySegment.copy(source, 0, pointer.reinterpret(SECRET_BYTES), 0, SECRET_BYTES);
            LibSodium.free(pointer);
        }
        return System.nanoTime() - start;
    }

    private long heap() {
        long start = System.nanoTime();
        for (int i = 0; i < fastOps; i++) {
            byte[] secret = new byte[SECRET_BYTES];
            Arrays.fill(secret, (byte) 0);
            heapSink = secret;
        }
        return System.nanoTime() - start;
    }
}
