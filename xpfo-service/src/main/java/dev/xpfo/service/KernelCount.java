// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.host.MemoryCgroup;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PageSize;
import dev.xpfo.stock.Stock;
import dev.xpfo.stock.StockStats;

import java.util.ArrayDeque;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * What the kernel counts of the secret memory the service populated and has not freed yet, from the
 * service's memory cgroup ({@link MemoryCgroup}): the stock, every grant whatever its receiver did
 * with the files (kept, passed on, parked in a socket's queue, registered with io_uring), and any
 * other unevictable memory of the service's (none: the JVM locks nothing), all counted.
 *
 * <ul>
 *   <li>As the stock's {@link Stock.PopulateGate}: populating {@code N} bytes is allowed only while
 *       {@code counted + populated since + populating + lag + N <= maximum}: the last reading
 *       (renewed every 250 ms off the stock's lock, so no grant waits for a file read), what was
 *       populated since it began, and {@link #lag} for pages the kernel may not show yet.</li>
 *   <li>For {@link Holdings}: the surplus, {@code ready + granted - counted - recent} bytes (recent up
 *       to the lag), where
 *       granted includes every grant still charged (released or not): how many charged bytes the
 *       kernel says are gone.</li>
 * </ul>
 * Services in one process (benchmarks, tests) share its memory cgroup, so they share the count: the
 * surplus compares the kernel's count with all their stocks together (and is used by one of them at a
 * time), and the gate holds the count within the sum of their maxima, each stock keeping its own.
 */
final class KernelCount implements Stock.PopulateGate, Holdings.KernelSurplus {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    static final long SETTLE_MILLIS = 2500;
    private static final long SETTLE_NANOS = SETTLE_MILLIS * 1_000_000L;
    /**
     * Pages a read of {@code memory.stat} may not show yet, per CPU, for as long as they stay there:
     * a page waiting in a CPU's LRU-add batch (31) is not on the unevictable list, and nothing drains
     * another CPU's batch on a timer, so this part of the lag has no time limit.
     */
    private static final long LRU_PAGES_PER_CPU = 31;
    /**
     * Pages a read may not show yet per CPU for a while only: per-CPU statistics updates below the
     * flush threshold (64, {@code MEMCG_CHARGE_BATCH}) plus the threshold itself (64), flushed by the
     * kernel every 2 s, hence counted for pages populated in the last {@value #SETTLE_MILLIS} ms.
     */
    private static final long STATS_PAGES_PER_CPU = 64 + 64;
    /**
     * The opposite error, per CPU: pages counted after their file is gone. Secret memory mappings are
     * locked, and unmapping releases each page through a CPU's munlock batch (31), which holds a
     * reference; munmap and exit drain the batch before they unmap, so the last pages of an unmap stay
     * in it, counted, until that CPU unmaps again. No time limit either.
     */
    private static final long MUNLOCK_PAGES_PER_CPU = 31;
    private static final long PAGE = PageSize.BYTES;

    private final MemoryCgroup cgroup;
    /** When populates happened and which are recent: {@link System#nanoTime()} but in tests. */
    private final LongSupplier nanoTime;
    /** Bytes the count may still show of files already gone ({@link #MUNLOCK_PAGES_PER_CPU}). */
    private final long munlockLag;
    private final long maximum;
    /** The lag that has no time limit: always taken off. */
    private final long lruLag;
    /** The lag that lasts until the kernel's next statistics flush: taken off for recent populates. */
    private final long statsLag;
    /** Populates that finished, with their time and bytes, for the settle time (all services of the process). */
    private static final ArrayDeque<long[]> RECENT = new ArrayDeque<>();
    /** Bytes populated by every service of the process, ever. Guarded by RECENT. */
    private static long populatedTotal;
    /** How often the gate's reading is renewed, off the stock's lock. */
    private static final long REFRESH_MILLIS = 250;

    /** The last reading, and how much had been populated when it began. */
    private long lastCounted = -1;
    private long populatedAtRead;
    private Thread refresher;
    private boolean closed;
    private Stock pool;
    private boolean failureLogged;

    /** The services of this process counting in one cgroup, and the cgroups to remove when all stop. */
    private static final class Sharing {
        final java.util.Set<KernelCount> members = new java.util.LinkedHashSet<>();
        final java.util.List<MemoryCgroup> made = new java.util.ArrayList<>();
    }

    /** By cgroup directory; also the lock that makes reading a surplus and using it one step. */
    private static final java.util.Map<java.nio.file.Path, Sharing> SHARING = new java.util.HashMap<>();

    KernelCount(MemoryCgroup cgroup, long maximum) {
        this(cgroup, maximum, System::nanoTime);
    }

    /** @param nanoTime the clock that dates populates and ages them out of the settle time */
    KernelCount(MemoryCgroup cgroup, long maximum, LongSupplier nanoTime) {
        this.cgroup = cgroup;
        this.nanoTime = nanoTime;
        this.maximum = maximum;
        int cpus = Runtime.getRuntime().availableProcessors();
        this.lruLag = LRU_PAGES_PER_CPU * cpus * PAGE;
        this.statsLag = STATS_PAGES_PER_CPU * cpus * PAGE;
        this.munlockLag = MUNLOCK_PAGES_PER_CPU * cpus * PAGE;
        countNow();
    }

    /** The stock whose ready and granted bytes the surplus compares with (set once it is open). */
    void counting(Stock stock) {
        synchronized (this) {
            this.pool = stock;
        }
        if (cgroup.counted()) {
            synchronized (SHARING) {
                Sharing sharing = SHARING.computeIfAbsent(cgroup.directory().orElseThrow(), dir -> new Sharing());
                sharing.members.add(this);
                sharing.made.add(cgroup);
            }
            // The gate is asked under the stock's lock, where a grant may wait: it uses this reading.
            Thread thread = new Thread(this::refreshLoop, "xpfo-kernel-count");
            thread.setDaemon(true);
            synchronized (this) {
                refresher = thread;
            }
            thread.start();
        }
    }

    private void refreshLoop() {
        dev.xpfo.host.BackgroundPriority.lowerCallingThread();
        while (true) {
            synchronized (this) {
                if (closed) {
                    return;
                }
            }
            countNow();
            // Woken early by close, never interrupted: an interrupt would close the file being read.
            synchronized (this) {
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REFRESH_MILLIS);
                try {
                    while (!closed && deadline - System.nanoTime() > 0) {
                        TimeUnit.NANOSECONDS.timedWait(this, deadline - System.nanoTime());
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /**
     * The service stopped: it no longer counts, and the cgroup made for the process is removed once no
     * other service of the process counts in it ({@link MemoryCgroup#close()}).
     */
    void close() {
        Thread thread;
        synchronized (this) {
            closed = true;
            thread = refresher;
            notifyAll();
        }
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<MemoryCgroup> closing = List.of(cgroup);
        if (cgroup.counted()) {
            synchronized (SHARING) {
                Sharing sharing = SHARING.get(cgroup.directory().orElseThrow());
                if (sharing != null && sharing.members.remove(this)) {
                    closing = List.of();
                    if (sharing.members.isEmpty()) {
                        SHARING.remove(cgroup.directory().orElseThrow());
                        closing = sharing.made;
                    }
                }
            }
        }
        closing.forEach(MemoryCgroup::close);
    }

    /** The members counting in this cgroup with this one (this one alone if not registered). */
    private List<KernelCount> sharing() {
        synchronized (SHARING) {
            Sharing sharing = cgroup.directory().map(SHARING::get).orElse(null);
            return sharing == null || !sharing.members.contains(this) ? List.of(this) : List.copyOf(sharing.members);
        }
    }

    @Override
    public Object confirmationLock() {
        synchronized (SHARING) {
            Sharing sharing = cgroup.directory().map(SHARING::get).orElse(null);
            return sharing == null ? this : sharing;
        }
    }

    MemoryCgroup cgroup() {
        return cgroup;
    }

    /** True if the kernel counts the service's memory (a memory cgroup of its own). */
    @Override
    public boolean counts() {
        return cgroup.counted();
    }

    /**
     * The most a read may fall behind the pages populated, given {@code recent} bytes populated in the
     * last {@value #SETTLE_MILLIS} ms: the LRU batches' part always, whenever the pages were populated
     * (that lag has no time limit), and the statistics part for recent pages. The gate takes it off,
     * so the kernel's true count never passes the maximum.
     */
    long lag(long recent) {
        return lruLag + Math.min(statsLag, recent);
    }

    /**
     * What the confirmation takes off: the lag of pages populated in the last {@value #SETTLE_MILLIS}
     * ms only. Taking off the LRU part always would never confirm the last grants let go of (the
     * surplus of the last {@code lruLag} bytes would never show), keeping them charged for good; not
     * taking it off means a grant may be confirmed gone while up to {@code lruLag} bytes of it are
     * still alive, which {@link #room} allows for, so the maximum holds; only whose quota they count
     * against can be off by that much.
     */
    long confirmationLag(long recent) {
        return Math.min(lruLag + statsLag, recent);
    }

    /** The last count read, -1 if none or nothing is counted (for status and metrics). */
    synchronized long lastCounted() {
        return lastCounted;
    }

    /** Reads the count now (and renews the gate's reading); -1 if nothing is counted or it cannot be read. */
    long countNow() {
        if (!cgroup.counted()) {
            return -1;
        }
        long before;
        synchronized (RECENT) {
            before = populatedTotal;
        }
        long value;
        try {
            value = cgroup.unevictableBytes();
        } catch (IllegalStateException e) {
            synchronized (this) {
                if (!failureLogged) {
                    LOG.log(System.Logger.Level.ERROR, "cannot read the kernel's count of the service's memory, so "
                            + "nothing more is populated until it can: " + e.getMessage());
                    failureLogged = true;
                }
            }
            value = -1;
        }
        synchronized (this) {
            lastCounted = value;
            populatedAtRead = before;
            if (value >= 0) {
                failureLogged = false;
            }
        }
        return value;
    }

    /**
     * Asked under the stock's lock, so it reads no file: the last reading (renewed every
     * {@value #REFRESH_MILLIS} ms), plus everything populated since it began (the service is alone in
     * its cgroup, so nothing else can have grown it), plus what is being populated.
     */
    @Override
    public long room(long populatingBytes) {
        if (!cgroup.counted()) {
            return Long.MAX_VALUE;
        }
        long counted;
        long atRead;
        synchronized (this) {
            counted = lastCounted;
            atRead = populatedAtRead;
        }
        if (counted < 0) {
            return 0; // never populate on a count that cannot be read
        }
        long since;
        long recent;
        synchronized (RECENT) {
            since = populatedTotal - atRead;
            recent = recentBytes(nanoTime.getAsLong());
        }
        long maxima = 0;
        for (KernelCount member : sharing()) {
            maxima += member.maximum;
        }
        return maxima - counted - since - populatingBytes - lag(recent);
    }

    @Override
    public void populated(long bytes) {
        synchronized (RECENT) {
            populatedTotal += bytes;
            RECENT.add(new long[]{nanoTime.getAsLong(), bytes});
        }
    }

    @Override
    public synchronized String describe() {
        return Bytes.format(Math.max(0, lastCounted)) + " of secret memory populated by the service is still "
                + "alive (memory cgroup " + cgroup.directory().map(Object::toString).orElse("?") + ")"
                + ", wherever its files went";
    }

    @Override
    public OptionalLong settledChunks() {
        if (!cgroup.counted()) {
            return OptionalLong.empty();
        }
        // Every stock first, the kernel second. Whatever happens in between only shrinks the surplus:
        // chunks being populated are not in the stocks' counts but their touched pages are in the
        // kernel's; a take moves chunks from ready to granted; pages freed meanwhile are gone indeed.
        long charged = 0;
        long chunk = 0;
        List<KernelCount> members = sharing();
        for (KernelCount member : members) {
            Stock stock;
            synchronized (member) {
                stock = member.pool;
            }
            if (stock == null) {
                return OptionalLong.empty(); // a service still opening: its stock is not counted yet
            }
            StockStats stats = stock.stats();
            charged += stats.readyBytes() + stats.handedOutBytes();
            if (member == this) {
                chunk = stats.chunkBytes();
            }
        }
        long counted = countNow();
        if (counted < 0 || chunk == 0) {
            return OptionalLong.empty();
        }
        long recentAll;
        synchronized (RECENT) {
            recentAll = recentBytes(nanoTime.getAsLong());
        }
        // Pages of chunks populated just before may not be in the kernel's count yet (confirmationLag);
        // pages of files already gone may still be in it (munlockLag): without allowing for those, the
        // last grant let go of on an idle host could stay charged for as long as no CPU unmaps again.
        // Never a whole chunk, so a grant still fully alive is never confirmed for them.
        long surplus = charged - counted - confirmationLag(recentAll) + Math.min(munlockLag, chunk - PAGE);
        return OptionalLong.of(Math.max(0, surplus) / chunk);
    }

    /** Bytes populated within the settle time before {@code now}. Under the RECENT lock. */
    private static long recentBytes(long now) {
        while (!RECENT.isEmpty() && now - RECENT.peek()[0] > SETTLE_NANOS) {
            RECENT.poll();
        }
        return RECENT.stream().mapToLong(entry -> entry[1]).sum();
    }
}
