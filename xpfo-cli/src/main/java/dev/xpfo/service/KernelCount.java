package dev.xpfo.service;

import dev.xpfo.host.MemoryCgroup;
import dev.xpfo.memory.Bytes;
import dev.xpfo.pool.FilePool;
import dev.xpfo.pool.FilePoolStats;

import java.util.ArrayDeque;
import java.util.OptionalLong;

/**
 * What the kernel counts of the secret memory the service populated and has not freed yet, from the
 * service's memory cgroup ({@link MemoryCgroup}): the stock, every grant whatever its receiver did
 * with the files (kept, passed on, parked in a socket's queue, registered with io_uring), and any
 * other unevictable memory of the service's (none: the JVM locks nothing), all counted.
 *
 * <ul>
 *   <li>As the stock's {@link FilePool.PopulateGate}: populating {@code N} bytes is allowed only while
 *       {@code counted + populating + recent + N <= maximum}, where {@code recent} covers pages
 *       populated in the last {@value #SETTLE_MILLIS} ms that the kernel may not show yet (at most
 *       {@link #lagBound()}).</li>
 *   <li>For {@link Holdings}: the surplus, {@code ready + granted - counted - recent} bytes, where
 *       granted includes every grant still charged (released or not): how many charged bytes the
 *       kernel says are gone.</li>
 * </ul>
 */
final class KernelCount implements FilePool.PopulateGate, Holdings.KernelSurplus {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    static final long SETTLE_MILLIS = 2500;
    private static final long SETTLE_NANOS = SETTLE_MILLIS * 1_000_000L;
    /**
     * Pages a read of {@code memory.stat} may not show yet, per CPU: the per-CPU LRU batch (31) and
     * the per-CPU statistics updates below the flush threshold (64, {@code MEMCG_CHARGE_BATCH}), plus
     * the threshold itself (64 per CPU).
     */
    private static final long LAG_PAGES_PER_CPU = 31 + 64 + 64;
    private static final long PAGE = 4096;

    private final MemoryCgroup cgroup;
    private final long maximum;
    private final long lagBound;
    private final ArrayDeque<long[]> recent = new ArrayDeque<>();
    private long lastCounted = -1;
    private FilePool pool;
    private boolean failureLogged;

    KernelCount(MemoryCgroup cgroup, long maximum) {
        this.cgroup = cgroup;
        this.maximum = maximum;
        this.lagBound = LAG_PAGES_PER_CPU * Runtime.getRuntime().availableProcessors() * PAGE;
    }

    /** The stock whose ready and granted bytes the surplus compares with (set once it is open). */
    synchronized void counting(FilePool stock) {
        this.pool = stock;
    }

    MemoryCgroup cgroup() {
        return cgroup;
    }

    /** True if the kernel counts the service's memory (a memory cgroup of its own). */
    @Override
    public boolean counts() {
        return cgroup.counted();
    }

    /** The most a read may fall behind pages populated just before it. */
    long lagBound() {
        return lagBound;
    }

    /** The last count read, -1 if none or nothing is counted (for status and metrics). */
    synchronized long lastCounted() {
        return lastCounted;
    }

    /** Reads the count now; -1 if nothing is counted or it cannot be read. */
    synchronized long countNow() {
        if (!cgroup.counted()) {
            return -1;
        }
        try {
            lastCounted = cgroup.unevictableBytes();
            failureLogged = false;
        } catch (IllegalStateException e) {
            if (!failureLogged) {
                LOG.log(System.Logger.Level.ERROR, "cannot read the kernel's count of the service's memory, so "
                        + "nothing more is populated until it can: " + e.getMessage());
                failureLogged = true;
            }
            lastCounted = -1;
        }
        return lastCounted;
    }

    @Override
    public synchronized long room(long populatingBytes) {
        if (!cgroup.counted()) {
            return Long.MAX_VALUE;
        }
        long counted = countNow();
        if (counted < 0) {
            return 0; // never populate on a count that cannot be read
        }
        return maximum - counted - populatingBytes - Math.min(lagBound, recentBytes());
    }

    @Override
    public synchronized void populated(long bytes) {
        long now = System.nanoTime();
        recent.add(new long[]{now, bytes});
    }

    @Override
    public synchronized String describe() {
        return Bytes.format(Math.max(0, lastCounted)) + " of secret memory populated by the service is still "
                + "alive (memory cgroup " + cgroup.directory().map(Object::toString).orElse("?") + ")"
                + ", wherever its files went";
    }

    @Override
    public OptionalLong settledChunks() {
        FilePool stock;
        synchronized (this) {
            stock = pool;
            if (stock == null || !cgroup.counted()) {
                return OptionalLong.empty();
            }
        }
        // The stock first, the kernel second. Whatever happens in between only shrinks the surplus:
        // chunks being populated are not in the stock's count but their touched pages are in the
        // kernel's; a take moves chunks from ready to granted; pages freed meanwhile are gone indeed.
        FilePoolStats stock0 = stock.stats();
        long counted = countNow();
        if (counted < 0) {
            return OptionalLong.empty();
        }
        long allowance;
        synchronized (this) {
            // Pages of chunks populated just before may not be in the kernel's count yet.
            allowance = Math.min(lagBound, recentBytes());
        }
        long surplus = stock0.readyBytes() + stock0.handedOutBytes() - counted - allowance;
        return OptionalLong.of(Math.max(0, surplus) / stock0.chunkBytes());
    }

    /** Bytes populated within the settle time. Under the lock. */
    private long recentBytes() {
        long now = System.nanoTime();
        while (!recent.isEmpty() && now - recent.peek()[0] > SETTLE_NANOS) {
            recent.poll();
        }
        return recent.stream().mapToLong(entry -> entry[1]).sum();
    }
}
