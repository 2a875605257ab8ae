// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.client.ServiceSocket;
import dev.xpfo.host.MemoryCgroup;
import dev.xpfo.host.SecretMemoryHolders;
import dev.xpfo.memory.Bytes;
import dev.xpfo.stock.Stock;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Messages;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * A running xpfo service: the stock of warm files, the listening socket, one thread per client.
 * {@link #close()} is the clean shutdown (what SIGTERM runs): stop accepting, let grants in flight
 * finish, drop the clients, release the stock.
 */
public final class Service implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    private static final Duration DRAIN = Duration.ofSeconds(10);

    /**
     * The service's periods and clock: {@link #DEFAULT} in production; tests shorten the periods and
     * drive the clock, so they wait for what happens instead of sleeping until it should have.
     *
     * @param scanInterval how often, at most, released and abandoned grants are looked for in every
     *                     process ({@link Holdings})
     * @param nanoTime     the clock of the per-user request rates ({@link Quotas})
     */
    record Timing(Duration scanInterval, LongSupplier nanoTime) {
        static final Timing DEFAULT = new Timing(Holdings.SCAN_INTERVAL, System::nanoTime);
    }

    private final ServiceSettings settings;
    private final Stock pool;
    private final Listener listener;
    private final Quotas quotas;
    private final ServiceMetrics metrics;
    private final Holdings holdings;
    private final KernelCount kernel;
    private final SentFileCloser sentFiles = new SentFileCloser();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    /** Notified when a connection's thread has ended: {@link #close()} waits on it. */
    private final Object disconnections = new Object();
    private final AtomicLong grantIds = new AtomicLong();
    private final AtomicInteger clientNumbers = new AtomicInteger();
    private final LongAdder grants = new LongAdder();
    private final LongAdder grantedBytes = new LongAdder();
    private final Map<ErrorCode, LongAdder> refusals = new EnumMap<>(ErrorCode.class);
    private final long startedAt = System.nanoTime();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread acceptor;
    private volatile boolean stopping;

    private Service(ServiceSettings settings, Timing timing, Stock pool, Listener listener, KernelCount kernel,
                    long secretDevice) {
        this.settings = settings;
        this.pool = pool;
        this.listener = listener;
        this.kernel = kernel;
        this.quotas = new Quotas(settings.quota(), timing.nanoTime());
        for (ErrorCode code : ErrorCode.values()) {
            refusals.put(code, new LongAdder());
        }
        this.metrics = new ServiceMetrics(this);
        this.holdings = new Holdings(
                grant -> quotas.release(grant.uid(), grant.chunks() * pool.chunkBytes()),
                grant -> pool.returned(grant.chunks()),
                () -> SecretMemoryHolders.scan(secretDevice).ignoringUid(ServiceSocket.currentUid()),
                kernel.counts() ? kernel : Holdings.KernelSurplus.NONE, timing.scanInterval());
        this.acceptor = new Thread(this::acceptLoop, "xpfo-accept");
    }

    /**
     * Opens the stock (refill starts at once), listens, and starts serving. Clients may connect while
     * the stock warms; their grants populate what is not ready yet.
     */
    public static Service start(ServiceSettings settings) {
        return start(settings, Timing.DEFAULT);
    }

    /** {@link #start(ServiceSettings)} with other periods and clock (tests). */
    static Service start(ServiceSettings settings, Timing timing) {
        // The socket first: a path it must refuse stops the service before any memory is populated.
        Listener listener = Listener.open(settings);
        // Before the first page is populated: the kernel charges a page to the toucher's cgroup for good.
        MemoryCgroup cgroup;
        try {
            cgroup = MemoryCgroup.join("xpfo-" + ProcessHandle.current().pid());
        } catch (RuntimeException e) {
            listener.close();
            throw e;
        }
        long chunk = settings.pool().chunkBytes();
        KernelCount kernel = new KernelCount(cgroup, settings.pool().maximumBytes() / chunk * chunk);
        if (cgroup.counted()) {
            LOG.log(System.Logger.Level.INFO, "the kernel counts the service's secret memory in the memory cgroup "
                    + cgroup.description() + "; the maximum holds whatever receivers do with their files");
        } else {
            LOG.log(System.Logger.Level.WARNING, "NOT COUNTED BY THE KERNEL: " + cgroup.why() + ". The maximum and the "
                    + "quotas then rest on a scan of /proc alone, which cannot see descriptors parked in a socket's "
                    + "queue or registered with io_uring: a client can hold more than the maximum that way");
        }
        Stock pool;
        long secretDevice;
        try {
            secretDevice = SecretMemoryHolders.device();
            pool = Stock.open(settings.pool(), kernel);
        } catch (RuntimeException e) {
            cgroup.close();
            listener.close();
            throw e;
        }
        kernel.counting(pool);
        Service service = new Service(settings, timing, pool, listener, kernel, secretDevice);
        try {
            settings.metrics().ifPresent(service.metrics::serve);
        } catch (RuntimeException e) {
            service.close();
            throw e;
        }
        service.acceptor.start();
        return service;
    }

    private void acceptLoop() {
        while (!stopping) {
            UnixSocket socket;
            try {
                socket = listener.accept();
                if (socket == null) {
                    continue; // the accept timeout: look at `stopping` again
                }
            } catch (RuntimeException e) {
                if (!stopping) {
                    LOG.log(System.Logger.Level.ERROR, "accept failed; retrying: " + e.getMessage());
                    pause();
                }
                continue;
            }
            UnixSocket.PeerCredentials peer;
            try {
                peer = socket.peerCredentials();
            } catch (RuntimeException e) {
                socket.close();
                continue;
            }
            int fromUid = (int) connections.stream().filter(c -> c.peer().uid() == peer.uid()).count();
            boolean full = connections.size() >= settings.maxClients();
            if (stopping || fromUid >= settings.maxClientsPerUid() || (full && !evictForFairShare(peer.uid(), fromUid))) {
                ErrorCode code = stopping ? ErrorCode.SHUTTING_DOWN : ErrorCode.BUSY;
                refused(code);
                LOG.log(System.Logger.Level.WARNING, "refused " + peer + ": " + code + " (" + connections.size()
                        + " connections)");
                try {
                    socket.timeouts(settings.frameTimeout(), settings.frameTimeout());
                    socket.send(new Messages.Error(code, stopping ? "the service is stopping"
                            : "serving " + connections.size() + " connections already, " + fromUid + " of them from uid "
                            + peer.uid() + " (limits " + settings.maxClients() + " and " + settings.maxClientsPerUid()
                            + " per uid)").frame(0).encode());
                } catch (RuntimeException e) {
                    // the peer left already
                }
                socket.close();
                continue;
            }
            Connection connection = new Connection(this, socket, peer);
            connections.add(connection);
            Thread thread = new Thread(connection, "xpfo-client-" + clientNumbers.incrementAndGet());
            thread.setDaemon(true);
            thread.start();
        }
    }

    /**
     * The table is full and a connection of {@code uid}, which has {@code fromUid} of them, asks in:
     * if that is below its fair share ({@code maxClients} over the number of uids connected, itself
     * included, at least 1), the oldest grant-less connection of the uid with the most connections
     * (above the fair share) is evicted to make room. Connections holding a grant are never evicted:
     * if every connection of the uids above their share holds one, nothing is, and the newcomer gets
     * {@code BUSY}.
     *
     * @return true if a connection was evicted (the newcomer may be served)
     */
    private boolean evictForFairShare(int uid, int fromUid) {
        Map<Integer, List<Connection>> byUid = new HashMap<>();
        for (Connection connection : connections) {
            byUid.computeIfAbsent(connection.peer().uid(), u -> new ArrayList<>()).add(connection);
        }
        int uids = byUid.size() + (byUid.containsKey(uid) ? 0 : 1);
        int share = Math.max(1, settings.maxClients() / uids);
        if (fromUid >= share) {
            return false;
        }
        List<List<Connection>> over = byUid.values().stream()
                .filter(list -> list.size() > share)
                .sorted(Comparator.comparingInt((List<Connection> list) -> list.size()).reversed())
                .toList();
        for (List<Connection> theirs : over) {
            List<Connection> oldestFirst = theirs.stream()
                    .sorted(Comparator.comparingLong(Connection::connectedAt)).toList();
            for (Connection candidate : oldestFirst) {
                if (candidate.evict("uid " + candidate.peer().uid() + " has " + theirs.size() + " of the "
                        + settings.maxClients() + " connections, more than its fair share of " + share
                        + "; uid " + uid + " has " + fromUid)) {
                    // Gone from the table now: its thread removes it too, a moment later.
                    connections.remove(candidate);
                    return true;
                }
            }
        }
        return false;
    }

    /** Waits until every connection's thread has ended, for up to {@code patience}. */
    private void awaitDisconnected(Duration patience) {
        long deadline = System.nanoTime() + patience.toNanos();
        synchronized (disconnections) {
            while (!connections.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(disconnections, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    ServiceSettings settings() {
        return settings;
    }

    /** The stock of warm files (to warm it, or read its state). */
    public Stock pool() {
        return pool;
    }

    Quotas quotas() {
        return quotas;
    }

    Holdings holdings() {
        return holdings;
    }

    /** The kernel's count of the service's secret memory (its memory cgroup). */
    KernelCount kernel() {
        return kernel;
    }

    /** Where a connection leaves its copies of the files it sent, to be closed off its thread. */
    SentFileCloser sentFiles() {
        return sentFiles;
    }

    long nextGrantId() {
        return grantIds.incrementAndGet();
    }

    void granted(long bytes, long nanos) {
        grants.increment();
        grantedBytes.add(bytes);
        metrics.granted(nanos);
    }

    void refused(ErrorCode code) {
        refusals.get(code).increment();
    }

    /** The connection's thread is ending: called last thing on it. */
    void disconnected(Connection connection) {
        connections.remove(connection);
        synchronized (disconnections) {
            disconnections.notifyAll();
        }
    }

    /** Where clients connect, for people. */
    public String listening() {
        return listener.description();
    }

    /** The metrics endpoint's address, once serving, for people. */
    public String metricsAddress() {
        return metrics.address().map(a -> "http://" + a.getHostString() + ":" + a.getPort() + "/metrics").orElse("off");
    }

    /** Connected clients. */
    public int clients() {
        return connections.size();
    }

    /** Grants made since the service started. */
    public long grantsTotal() {
        return grants.sum();
    }

    long grantedBytesTotal() {
        return grantedBytes.sum();
    }

    long refusalsTotal(ErrorCode code) {
        return refusals.get(code).sum();
    }

    long clientsTotal() {
        return clientNumbers.get();
    }

    Duration uptime() {
        return Duration.ofNanos(System.nanoTime() - startedAt);
    }

    /** The state, as the STATUS_REPLY JSON document ({@code docs/protocol.md}). */
    public String statusJson() {
        return ServiceStatus.json(this);
    }

    /**
     * True if no released or abandoned grant waits to be confirmed gone (so no once-a-second scan of
     * every process is about to run): for benchmarks that time requests with background work idle.
     */
    public boolean sweeperIdle() {
        return holdings.idle();
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    /**
     * Clean shutdown: stops accepting (and removes the socket file it made), lets each client finish
     * the request it is answering (up to 10 s), drops the clients, and closes the stock. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (stopping) {
                return;
            }
            stopping = true;
        }
        LOG.log(System.Logger.Level.INFO, "stopping: " + connections.size() + " clients connected, "
                + Bytes.format(pool.stats().readyBytes()) + " ready");
        listener.wake();
        try {
            acceptor.join(DRAIN.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        listener.close();
        connections.forEach(Connection::stop);
        awaitDisconnected(DRAIN);
        sentFiles.close();
        holdings.close();
        metrics.close();
        pool.close();
        kernel.close();
        LOG.log(System.Logger.Level.INFO, "stopped" + (connections.isEmpty() ? "" : " (" + connections.size()
                + " clients did not finish within " + DRAIN.toSeconds() + " s)"));
        stopped.countDown();
    }
}
