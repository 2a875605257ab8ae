// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.stock.StockStats;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.Service;
import dev.xpfo.service.ServiceSettings;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The service, in this process, with clients over its real socket. Rows:
 * <ul>
 *   <li>{@code grant.warm} / {@code grant.cold}: from a client's request to a mapped region with every
 *       page written, from a warm stock and from a service with no stock (it populates on demand);
 *       {@code grant.anon}: the same size of anonymous memory mapped and written, the ordinary-memory
 *       baseline for the receiver's touches; {@code grant.warm_refilling}: a warm grant while refill
 *       runs (another client just took the stock below its low watermark), whose cross-CPU TLB-flush
 *       interrupts reach the receiver's CPU too;</li>
 *   <li>{@code grant.exchange_p50} / {@code _p99}: the request/reply exchange alone for a warm grant
 *       (GRANT sent to the last CHUNKS frame received with its descriptors; nothing mapped or touched);</li>
 *   <li>{@code grant.rate}: 2 MiB grants per second (each mapped, then released) by 16 concurrent clients,
 *       from a warm stock.</li>
 * </ul>
 * Every measurement starts with the warm service's stock full and refill idle (refill runs from below
 * half the stock up to it, at the lowest CPU priority); {@code grant.warm_refilling} shows what it costs
 * a receiver when it does run.
 */
final class GrantSuite implements Suite {
    private static final Logger SERVICE_LOG = Logger.getLogger("dev.xpfo.service");
    private static final long CHUNK = 2L << 20;
    /** Timed exchanges per round: 1,000 over the default 5 rounds, enough for a p99 that means something. */
    private static final int EXCHANGES_PER_ROUND = 200;
    /** Exchanges between two settles: half the warm stock, so refill never starts during a batch. */
    private static final int EXCHANGES_PER_BATCH = 32;
    private static final int RATE_CLIENTS = 16;

    private final long bytes;
    private final int rateGrants;

    /**
     * @param bytes      per grant in {@code grant.warm}, {@code .cold}, {@code .exchange}
     * @param rateGrants 2 MiB grants per {@code grant.rate} measurement
     */
    GrantSuite(long bytes, int rateGrants) {
        this.bytes = bytes;
        this.rateGrants = rateGrants;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        SERVICE_LOG.setLevel(Level.WARNING); // it logs every grant at INFO
        System.out.printf(Locale.ROOT, "grant: %s grants from the service, %d rounds + warm-up:", Bytes.format(bytes), rounds);
        Path dir = Files.createTempDirectory("xpfo-bench-grant");
        // Twice what one batch of exchanges takes, so the stock stays above its low watermark (half).
        long stock = 2 * Math.max(EXCHANGES_PER_BATCH * bytes, rateGrants * CHUNK);
        ServiceSettings warmSettings = settings(dir.resolve("warm.sock"), stock);
        List<Double> exchanges = new ArrayList<>();
        try (Service warm = Service.start(warmSettings);
             Service cold = Service.start(settings(dir.resolve("cold.sock"), 0));
             XpfoClient warmClient = XpfoClient.connect(warmSettings.socket());
             XpfoClient coldClient = XpfoClient.connect(dir.resolve("cold.sock"))) {
            Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
            rows.put("grant.warm", measured -> {
                settle(warm);
                record(results, "grant.warm", measured, grantAndTouch(warmClient));
            });
            rows.put("grant.warm_refilling", measured -> {
                settle(warm);
                // Hold enough to drop the stock below its low watermark: refill runs during the measurement.
                StockStats stats = warm.pool().stats();
                long below = stats.readyBytes() - warmSettings.pool().lowBytes() + CHUNK;
                try (XpfoClient holder = XpfoClient.connect(warmSettings.socket());
                     GrantedMemory held = holder.grant(below)) {
                    record(results, "grant.warm_refilling", measured, grantAndTouch(warmClient));
                }
            });
            rows.put("grant.cold", measured -> {
                settle(warm);
                record(results, "grant.cold", measured, grantAndTouch(coldClient));
            });
            rows.put("grant.anon", measured -> {
                settle(warm);
                long start = System.nanoTime();
                try (Mapping mapping = Mapping.anonymous(bytes)) {
                    Bench.touch(mapping.segment());
                    record(results, "grant.anon", measured, System.nanoTime() - start);
                }
            });
            rows.put("grant.exchange", measured -> {
                // In batches that the stock covers: each batch starts from a full stock with refill idle.
                for (int done = 0; done < EXCHANGES_PER_ROUND; done += EXCHANGES_PER_BATCH) {
                    settle(warm);
                    exchanges(warmSettings.socket(), Math.min(EXCHANGES_PER_BATCH, EXCHANGES_PER_ROUND - done),
                            measured ? exchanges : null, results);
                }
            });
            rows.put("grant.rate", measured -> {
                settle(warm);
                long coldBefore = warm.pool().stats().coldChunks();
                double rate = rate(warmSettings.socket(), rateGrants);
                if (measured) {
                    results.add("grant.rate", "grants/s", rate);
                    results.add("grant.rate.cold_chunks", "chunks", warm.pool().stats().coldChunks() - coldBefore);
                }
            });
            Suite.interleave(rounds, rows);
        } finally {
            SERVICE_LOG.setLevel(null);
        }
        double[] sorted = exchanges.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double p50 = percentile(sorted, 0.50);
        double p99 = percentile(sorted, 0.99);
        results.add("grant.exchange_p50", "us", p50);
        results.add("grant.exchange_p99", "us", p99);
        double coldVsWarm = results.ratio("grant.cold / grant.warm (warm is this much faster)", "grant.cold", "grant.warm");
        results.ratio("grant.warm / grant.anon", "grant.warm", "grant.anon");
        results.ratio("grant.warm_refilling / grant.warm", "grant.warm_refilling", "grant.warm");
        results.verdict(String.format(Locale.ROOT, "grant: warm at least 4x faster than cold: %s (%.1fx); p99 of the "
                        + "request/reply exchange for a warm %s grant under 1 ms: %s (%.0f us over %d exchanges).",
                coldVsWarm >= 4 ? "met" : "MISSED", coldVsWarm, Bytes.format(bytes), p99 < 1000 ? "met" : "MISSED", p99,
                sorted.length));
    }

    private ServiceSettings settings(Path socket, long target) {
        long maximum = Math.max(4 * Math.max(target, bytes), 1L << 30);
        return ServiceSettings.defaults(socket)
                .withPool(StockSettings.of(CHUNK, target, maximum, Runtime.getRuntime().availableProcessors()))
                .withQuota(new ServiceSettings.Quota(maximum, 0))
                .withLimits(maximum, Duration.ofSeconds(120), Duration.ofSeconds(5), 256);
    }

    /**
     * Waits until the warm service's stock is full, nothing is being populated and no release waits
     * for the once-a-second scan of every process, then collects
     * garbage: the service shares this JVM with the other suites, and a collector pause would land on
     * whichever request is in flight (a service's own pauses are real, but not other suites' garbage).
     */
    private static void settle(Service service) throws InterruptedException {
        StockSettle.await(service);
        System.gc();
        Thread.sleep(200); // the collector's and compiler's threads finish what the collection set off
    }

    private long grantAndTouch(XpfoClient client) {
        long start = System.nanoTime();
        try (GrantedMemory memory = client.grant(bytes)) {
            Bench.touch(memory.segment());
            return System.nanoTime() - start;
        }
    }

    /**
     * {@code count} timed exchanges on one connection, each grant released after the timed loop (each
     * release queues a scan of every process); the times go to {@code times} unless it is null (warm-up).
     */
    private void exchanges(Path socketPath, int count, List<Double> times, Results results) {
        try (UnixSocket socket = UnixSocket.connect(socketPath)) {
            FrameReader reader = new FrameReader(socket, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            socket.send(new Messages.Hello(1, 1).frame(0).encode());
            Messages.Welcome.decode(reader.next());
            List<Long> grants = new ArrayList<>();
            for (int i = 1; i <= count; i++) {
                ExchangeEvent event = new ExchangeEvent();
                event.begin();
                long start = System.nanoTime();
                List<Frame> frames = exchange(socket, reader, i);
                double micros = (System.nanoTime() - start) / 1e3;
                event.request = i;
                event.measured = times != null;
                event.commit();
                frames.forEach(Frame::closeFds);
                grants.add(Messages.Chunks.decode(frames.getFirst()).grantId());
                if (times != null) {
                    times.add(micros);
                    results.add("grant.exchange", "us", micros);
                }
            }
            int request = count;
            for (long grant : grants) {
                socket.send(new Messages.Release(grant).frame(++request).encode());
                Messages.Released.decode(reader.next());
            }
        }
    }

    /** One GRANT to its last CHUNKS frame: the frames, descriptors still open. */
    private List<Frame> exchange(UnixSocket socket, FrameReader reader, int request) {
        socket.send(new Messages.Grant(bytes, Protocol.GRANT_WARM_ONLY).frame(request).encode());
        List<Frame> frames = new ArrayList<>();
        Messages.Chunks chunks;
        do {
            Frame frame = reader.next();
            frames.add(frame);
            chunks = Messages.Chunks.decode(frame);
        } while (!chunks.last());
        return frames;
    }

    private static double rate(Path socket, int grants) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(RATE_CLIENTS);
        AtomicInteger left = new AtomicInteger(grants);
        List<XpfoClient> clients = new ArrayList<>();
        for (int i = 0; i < RATE_CLIENTS; i++) {
            clients.add(XpfoClient.connect(socket));
        }
        try {
            long start = System.nanoTime();
            List<Future<?>> running = new ArrayList<>();
            for (XpfoClient client : clients) {
                running.add(threads.submit(() -> {
                    while (left.getAndDecrement() > 0) {
                        client.grant(CHUNK).close();
                    }
                    return null;
                }));
            }
            for (Future<?> future : running) {
                future.get();
            }
            return grants / ((System.nanoTime() - start) / 1e9);
        } finally {
            clients.forEach(XpfoClient::close);
            threads.shutdown();
        }
    }

    private void record(Results results, String row, boolean measured, long nanos) {
        if (measured) {
            results.add(row, "ms", nanos / 1e6);
            results.add(row + ".ns_per_page", "ns/page", nanos / (double) (bytes / Bench.PAGE));
        }
    }

    private static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    }
}
