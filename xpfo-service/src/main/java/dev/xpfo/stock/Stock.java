// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.stock;

import dev.xpfo.host.BackgroundPriority;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.PopulateWorkers;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.metrics.Metric;
import dev.xpfo.metrics.MetricSource;
import dev.xpfo.pool.PoolLimitException;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A stock of populated secret memory files, one chunk each, to be handed to other processes: what
 * {@code xpfo serve} grants from. Every page of a ready file is already out of the direct map (the
 * cross-CPU flush is paid), so a receiver that maps it pays only ordinary page faults.
 *
 * <p>Unlike {@link PagePool}, a file is taken for good: the receiver may keep its descriptor, so a
 * file is never handed out twice, and refill populates new ones to replace it. The stock keeps no
 * mapping of a ready file (each counts against {@code RLIMIT_MEMLOCK} only while being populated),
 * one descriptor each.
 *
 * <p>Thread safe.
 */
public final class Stock implements AutoCloseable, MetricSource {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.pool");
    private static final long RATE_WINDOW_NANOS = Duration.ofSeconds(10).toNanos();

    private final StockSettings settings;
    private final PopulateGate gate;
    private final int targetChunks;
    private final int lowChunks;
    private final int maximumChunks;

    private final ReentrantLock lock = new ReentrantLock();
    /**
     * Signalled whenever what {@link #warm} waits for may have changed: the ready stock, what is
     * handed out, refill's failures, the gate's room, the close.
     */
    private final Condition stockChanged = lock.newCondition();
    /**
     * Signalled only when refill has work (or the stock closes): the refill thread runs at the lowest
     * CPU priority, and one woken by every take would take this lock after it, where, preempted by
     * any other thread on a busy machine, it would hold up the next take for a whole time slice.
     */
    private final Condition refillWork = lock.newCondition();
    private final ArrayDeque<XpfoFile> ready = new ArrayDeque<>();
    /** Chunks being populated for the stock (warm-up and refill). */
    private int stocking;
    /** Chunks being populated for a take whose caller waits. */
    private int populatingForTakes;
    private int handedOut;
    private long takes;
    /** Populated while a take's caller waited, whether or not the take then succeeded. */
    private long coldChunks;
    /** Populated ahead of demand, by warm-up and refill. */
    private long warmedChunks;
    /** Ready files closed because the stock was past its target (what a failed take brought back). */
    private long trimmedChunks;
    private long chunksPopulated;
    private final ArrayDeque<long[]> refillHistory = new ArrayDeque<>();
    /** Why the last refill batch failed, and how many failed in a row, until one succeeds. */
    private RuntimeException refillFailure;
    private int refillFailures;
    /** Refill runs from when the stock falls below the low watermark (or warm asks) until the target. */
    private boolean refilling = true;
    /** Refill wants more and the gate lets it populate nothing: asked again every {@link #recheck}. */
    private boolean gated;
    /** Written under the lock; read without it where a stale value only costs one more chunk. */
    private volatile boolean closed;

    /** Threads for chunks a caller waits for, at normal priority. */
    private final ExecutorService populators;
    /** Threads for refill, at the lowest priority: refill must not delay grants or their receivers. */
    private final ExecutorService refillers;
    private final Thread refiller;
    /** {@link System#nanoTime()} but in tests: deadlines and the refill rate are measured with it. */
    private final LongSupplier clock;
    /** How long refill waits before it tries again after a failure, or looks again at a gate with no room. */
    private final Duration recheck;

    private Stock(StockSettings settings, PopulateGate gate, LongSupplier clock, Duration recheck) {
        this.settings = settings;
        this.gate = gate;
        this.clock = clock;
        this.recheck = recheck;
        this.targetChunks = (int) (settings.targetBytes() / settings.chunkBytes());
        this.lowChunks = (int) (settings.lowBytes() / settings.chunkBytes());
        this.maximumChunks = (int) Math.min(Integer.MAX_VALUE, settings.maximumBytes() / settings.chunkBytes());
        AtomicInteger threads = new AtomicInteger();
        this.populators = Executors.newCachedThreadPool(task -> {
            Thread thread = new Thread(task, "xpfo-populate-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        this.refillers = Executors.newCachedThreadPool(task -> {
            Thread thread = new Thread(() -> {
                BackgroundPriority.lowerCallingThread();
                task.run();
            }, "xpfo-refill-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        this.refiller = new Thread(() -> {
            BackgroundPriority.lowerCallingThread();
            refillLoop();
        }, "xpfo-refill");
        this.refiller.setDaemon(true);
    }

    /**
     * Opens a stock and starts its refill thread, which begins populating towards the target at once
     * on {@code populateThreads} threads; call {@link #warm} to wait for it (with progress).
     *
     * @throws dev.xpfo.memory.SecretMemoryUnavailableException if this kernel cannot make secret memory
     *                                                          (checked by making one file now)
     */
    public static Stock open(StockSettings settings) {
        return open(settings, PopulateGate.NONE);
    }

    /**
     * A second count of the memory populated, kept outside the stock (a service counts with its memory
     * cgroup what the kernel still holds of everything it populated, wherever the files went): asked
     * under the stock's lock before each populate, on top of the stock's own maximum.
     */
    public interface PopulateGate {
        /** Counts nothing: the stock's own maximum alone. */
        PopulateGate NONE = new PopulateGate() {
            @Override
            public long room(long populatingBytes) {
                return Long.MAX_VALUE;
            }

            @Override
            public String describe() {
                return "";
            }
        };

        /** Bytes that may be populated now, {@code populatingBytes} being populated already. */
        long room(long populatingBytes);

        /** A populate of {@code bytes} finished (the files made, or some of them). */
        default void populated(long bytes) {
        }

        /** Why {@link #room} is short, for a refusal's message. */
        String describe();
    }

    /** Like {@link #open(StockSettings)}, populating only what {@code gate} has room for. */
    public static Stock open(StockSettings settings, PopulateGate gate) {
        return open(settings, gate, System::nanoTime, Duration.ofSeconds(1));
    }

    /**
     * Like {@link #open(StockSettings, PopulateGate)}, with the clock deadlines are measured by and the
     * pause before refill tries again (after a failure, or with a gate that had no room): for tests,
     * which must not wait on the wall clock.
     */
    static Stock open(StockSettings settings, PopulateGate gate, LongSupplier clock, Duration recheck) {
        XpfoFile.open().close();
        Stock pool = new Stock(settings, gate, clock, recheck);
        pool.refiller.start();
        return pool;
    }

    /** The size of each file. */
    public long chunkBytes() {
        return settings.chunkBytes();
    }

    public StockSettings settings() {
        return settings;
    }

    /**
     * Waits until refill has the target ready (or as much of it as the maximum allows while grants
     * are out), reporting progress in bytes of the target; returns early if the stock closes.
     *
     * @throws StockExhaustedException {@code POPULATE_FAILED} if refill failed three times in a row (the
     *                                 cause says why); refill keeps retrying, a second apart
     */
    public void warm(PopulateProgress progress) {
        long target = settings.targetBytes();
        long reported = -1;
        while (true) {
            long readyBytes;
            boolean done;
            RuntimeException failure;
            lock.lock();
            try {
                // Asked again on every pass: a take may have lowered the stock after refill stopped at the target.
                if (ready.size() + stocking < targetChunks && headroom() > 0 && !refilling) {
                    refilling = true;
                    refillWork.signal();
                }
                readyBytes = (long) ready.size() * chunkBytes();
                done = closed || (ready.size() >= targetChunks && stocking == 0) || ((headroom() <= 0 || gated) && stocking == 0);
                failure = refillFailures >= 3 ? refillFailure : null;
                if (!done && failure == null) {
                    // Everything that can end the wait signals: refill stocking or failing, a take, a return,
                    // the gate running out of room, the close.
                    stockChanged.await();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                lock.unlock();
            }
            long shown = Math.min(readyBytes, target);
            if (shown > reported) {
                progress.populated(shown, target);
                reported = shown;
            }
            if (done) {
                return;
            }
            if (failure != null) {
                throw new StockExhaustedException(StockExhaustedException.Reason.POPULATE_FAILED, "warming stopped at "
                        + Bytes.format(readyBytes) + " of " + Bytes.format(target) + ": " + failure.getMessage(), failure);
            }
        }
    }

    /**
     * Takes {@code chunks} populated files; the caller owns them (and closes them once sent). Ready
     * files are taken first; missing ones are populated now, on up to {@code populateThreads} threads,
     * unless {@code warmOnly}. The files count as handed out until {@link #returned}.
     *
     * @param deadline how long populating missing chunks may take; past it the take fails, and what it
     *                 took and populated goes back to the stock up to the target; the rest is closed before
     *                 this returns. Chunks it populated count as {@linkplain StockStats#coldChunks cold}
     *                 either way
     * @throws PoolLimitException      nothing was taken: the maximum ({@link PoolLimitException.Limit#MAXIMUM})
     *                                 would be passed, by the stock's own count or the gate's
     * @throws StockExhaustedException nothing was taken: too few were ready with {@code warmOnly}, the
     *                                 deadline passed, or the kernel refused
     * @throws XpfoClosedException     the stock is closed
     */
    public Taken take(int chunks, Duration deadline, boolean warmOnly) {
        if (chunks <= 0) {
            throw new IllegalArgumentException("take needs at least one chunk, not " + chunks);
        }
        List<XpfoFile> taken = new ArrayList<>(chunks);
        int missing;
        lock.lock();
        try {
            ensureOpen();
            while (taken.size() < chunks && !ready.isEmpty()) {
                taken.add(ready.poll());
            }
            missing = chunks - taken.size();
            if (missing > 0 && warmOnly) {
                putBack(taken);
                throw new StockExhaustedException(StockExhaustedException.Reason.NOT_WARM, (chunks - missing)
                        + " of " + chunks + " chunks ready and the request asked not to wait for populating", null);
            }
            // The files just taken left the ready set but are not handed out yet: count them here.
            if (missing > headroom() - taken.size()) {
                putBack(taken);
                throw PoolLimitException.maximumReached("populating " + missing
                        + " more chunks would pass the stock's maximum of " + Bytes.format(settings.maximumBytes())
                        + " (" + Bytes.format((long) handedOut * chunkBytes()) + " handed out)");
            }
            if (missing > 0 && (long) missing * chunkBytes() > gate.room(populatingBytes())) {
                stock(taken, false);
                throw PoolLimitException.maximumReached("populating " + missing
                        + " more chunks would pass the stock's maximum of " + Bytes.format(settings.maximumBytes())
                        + " by the kernel's count: " + gate.describe());
            }
            populatingForTakes += missing;
            handedOut += taken.size();
            if (missing == 0) {
                takes++;
            }
            stockChanged.signalAll(); // a warm waiting for the target starts refill again, or stops at the maximum
            wakeRefillIfNeeded();
        } finally {
            lock.unlock();
        }
        if (missing == 0) {
            return new Taken(taken, 0); // counted above, under the same lock
        }
        long deadlineNanos = clock.getAsLong() + deadline.toNanos();
        Batch batch;
        try {
            batch = populate(missing, deadlineNanos, populators);
        } catch (RuntimeException | Error e) {
            List<XpfoFile> surplus;
            lock.lock();
            try {
                populatingForTakes -= missing;
                handedOut -= taken.size();
                surplus = stock(taken, false);
            } finally {
                lock.unlock();
            }
            closeAll(surplus);
            throw e;
        }
        List<XpfoFile> surplus = List.of();
        lock.lock();
        try {
            populatingForTakes -= missing;
            // On demand whether or not the take succeeds: a failed take's chunks were not warmed ahead of it.
            coldChunks += batch.files().size();
            if (batch.files().size() == missing) {
                handedOut += missing;
                taken.addAll(batch.files());
            } else {
                handedOut -= taken.size();
                List<XpfoFile> back = new ArrayList<>(taken);
                back.addAll(batch.files());
                surplus = stock(back, false);
            }
        } finally {
            lock.unlock();
        }
        // Closed before the failure is reported, off the lock: the stock is back at its target when the caller hears.
        closeAll(surplus);
        if (!surplus.isEmpty()) {
            int trimmed = surplus.size();
            LOG.log(System.Logger.Level.INFO, () -> "a failed take brought back " + trimmed + " chunks beyond the target of "
                    + Bytes.format(settings.targetBytes()) + ": closed");
        }
        if (batch.files().size() < missing) {
            if (batch.failure() != null) {
                throw new StockExhaustedException(StockExhaustedException.Reason.POPULATE_FAILED, "could not populate "
                        + missing + " chunks: " + batch.failure().getMessage(), batch.failure());
            }
            throw new StockExhaustedException(StockExhaustedException.Reason.DEADLINE, "populated " + batch.files().size()
                    + " of the " + missing + " missing chunks in the " + deadline.toMillis() + " ms allowed", null);
        }
        countTake();
        return new Taken(taken, missing);
    }

    /**
     * What a take got.
     *
     * @param files             the files, the caller's to close
     * @param populatedOnDemand how many of them were populated while the caller waited (not ready)
     */
    public record Taken(List<XpfoFile> files, int populatedOnDemand) {
    }

    /** Files handed out earlier are no longer counted against the maximum (their receiver let go). */
    public void returned(int chunks) {
        lock.lock();
        try {
            if (chunks > handedOut) {
                LOG.log(System.Logger.Level.WARNING, chunks + " chunks returned but only " + handedOut
                        + " handed out: accounting error, clamped at 0");
            }
            handedOut = Math.max(0, handedOut - chunks);
            stockChanged.signalAll();
            wakeRefillIfNeeded();
        } finally {
            lock.unlock();
        }
    }

    private void countTake() {
        lock.lock();
        try {
            takes++;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Wakes the refill thread if it has chunks to populate now; a take that leaves the stock above
     * its low watermark wakes nobody. Under the lock.
     */
    private void wakeRefillIfNeeded() {
        if (refillable() > 0) {
            refillWork.signal();
        }
    }

    /** Chunks that may still be populated without passing the maximum. Under the lock. */
    private int headroom() {
        return maximumChunks - ready.size() - stocking - populatingForTakes - handedOut;
    }

    /**
     * Adds files to the ready stock up to its target and returns the rest, for the caller to close
     * once it has let go of the lock (all of them if the stock closed). Nothing else adds to the stock,
     * so it never holds more than the target: a failed take that brings back more than it took (the
     * chunks it populated) or a refill batch landing after such a take does not leave memory out of
     * the direct map beyond what was asked for. Under the lock.
     */
    private List<XpfoFile> stock(List<XpfoFile> files, boolean refill) {
        if (closed) {
            return List.copyOf(files);
        }
        int kept = Math.clamp(targetChunks - ready.size(), 0, files.size());
        ready.addAll(files.subList(0, kept));
        if (refill && kept > 0) {
            refillHistory.add(new long[]{clock.getAsLong(), (long) kept * chunkBytes()});
        }
        List<XpfoFile> surplus = List.copyOf(files.subList(kept, files.size()));
        trimmedChunks += surplus.size();
        stockChanged.signalAll();
        return surplus;
    }

    /** Returns files a take had just polled, in the same locked step, to the head of the stock. Under the lock. */
    private void putBack(List<XpfoFile> files) {
        files.reversed().forEach(ready::addFirst);
    }

    /** Closes files the stock does not keep: their memory returns to the kernel (wiped, back in the direct map). */
    private static void closeAll(List<XpfoFile> files) {
        files.forEach(XpfoFile::close);
    }

    private record Batch(List<XpfoFile> files, RuntimeException failure) {
    }

    /**
     * Populates up to {@code count} new files on up to {@code populateThreads} threads, each thread
     * making one file at a time, stopping at the deadline, the stock's close or the first failure.
     */
    private Batch populate(int count, long deadlineNanos, Executor threadsToUse) {
        List<XpfoFile> made = new ArrayList<>(count);
        if (count == 0) {
            return new Batch(made, null);
        }
        PopulateWorkers.Outcome outcome = PopulateWorkers.of(Math.min(count, settings.populateThreads()), threadsToUse)
                .stoppingWhen(() -> clock.getAsLong() >= deadlineNanos || isClosed())
                .run(count, (index, populated) -> {
                    XpfoFile file = XpfoFile.create(chunkBytes());
                    try {
                        file.populate();
                        file.inode(); // read now, off the path of the request that will take the file
                    } catch (RuntimeException | Error e) {
                        file.close();
                        throw e;
                    }
                    synchronized (made) {
                        made.add(file);
                    }
                });
        lock.lock();
        try {
            chunksPopulated += made.size();
        } finally {
            lock.unlock();
        }
        gate.populated((long) count * chunkBytes());
        if (outcome.failure() instanceof Error error) {
            closeAll(made);
            throw error;
        }
        return new Batch(made, (RuntimeException) outcome.failure());
    }

    private void refillLoop() {
        while (true) {
            int count;
            lock.lock();
            try {
                while (!closed && refillable() <= 0) {
                    if (gated) {
                        // Nothing signals when the gate's count drops (a receiver closing its files): look again.
                        try {
                            refillWork.awaitNanos(recheck.toNanos());
                        } catch (InterruptedException e) {
                            return;
                        }
                    } else {
                        refillWork.awaitUninterruptibly();
                    }
                }
                if (closed) {
                    return;
                }
                count = Math.min(settings.populateThreads(), refillable());
                stocking += count;
            } finally {
                lock.unlock();
            }
            Batch batch;
            try {
                batch = populate(count, Long.MAX_VALUE, refillers);
            } catch (RuntimeException e) {
                batch = new Batch(List.of(), e);
            } catch (Error e) {
                lock.lock();
                try {
                    stocking -= count;
                } finally {
                    lock.unlock();
                }
                throw e;
            }
            List<XpfoFile> surplus;
            lock.lock();
            try {
                stocking -= count;
                warmedChunks += batch.files().size();
                surplus = stock(batch.files(), true);
                refillFailure = batch.failure();
                refillFailures = batch.failure() == null ? 0 : refillFailures + 1;
                refillable(); // stops the burst at the target, before anyone takes again
            } finally {
                lock.unlock();
            }
            closeAll(surplus);
            if (batch.failure() != null) {
                LOG.log(System.Logger.Level.WARNING, "refill could not populate a chunk; retrying in "
                        + recheck.toMillis() + " ms: " + batch.failure().getMessage());
                sleepUnlessClosed(recheck);
            }
        }
    }

    /** Chunks refill should populate now: none until the stock falls below the low watermark. Under the lock. */
    private int refillable() {
        if (ready.size() + stocking < lowChunks) {
            refilling = true;
        }
        int wanted = Math.min(targetChunks - ready.size() - stocking, headroom());
        if (wanted <= 0) {
            refilling = false;
        }
        boolean wasGated = gated;
        gated = false;
        if (refilling) {
            long room = gate.room(populatingBytes()) / chunkBytes();
            if (room < wanted) {
                wanted = (int) Math.max(0, room);
                gated = wanted == 0;
            }
        }
        if (gated && !wasGated) {
            stockChanged.signalAll(); // a warm stops at what the gate allows
        }
        return refilling ? wanted : 0;
    }

    /** Bytes being populated now. Under the lock. */
    private long populatingBytes() {
        return (long) (stocking + populatingForTakes) * chunkBytes();
    }

    private void sleepUnlessClosed(Duration pause) {
        lock.lock();
        try {
            long nanos = pause.toNanos();
            while (!closed && nanos > 0) {
                nanos = refillWork.awaitNanos(nanos);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** Read by populate threads between chunks without the lock, which they must not hold up takes for. */
    private boolean isClosed() {
        return closed;
    }

    /** A reading of the stock's state. */
    public StockStats stats() {
        lock.lock();
        try {
            long now = clock.getAsLong();
            while (!refillHistory.isEmpty() && now - refillHistory.peek()[0] > RATE_WINDOW_NANOS) {
                refillHistory.poll();
            }
            long recent = refillHistory.stream().mapToLong(entry -> entry[1]).sum();
            long chunk = chunkBytes();
            return new StockStats(chunk, ready.size() * chunk, settings.targetBytes(), (long) maximumChunks * chunk,
                    (long) (stocking + populatingForTakes) * chunk, (long) handedOut * chunk, takes, coldChunks,
                    chunksPopulated, recent * 1_000_000_000L / RATE_WINDOW_NANOS, warmedChunks, trimmedChunks,
                    refilling);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The stock's families for Prometheus, one name per quantity, counters rather than rates (a rate is
     * the scraper's {@code rate()} over a counter). Takes are the service's grants, counted there.
     */
    @Override
    public List<Metric> metrics() {
        StockStats stats = stats();
        long chunk = stats.chunkBytes();
        return List.of(
                Metric.gauge("xpfo_stock_ready_bytes", "Populated secret memory files ready to grant (at most the target)",
                        stats.readyBytes()),
                Metric.gauge("xpfo_stock_target_bytes", "What refill fills the stock up to", stats.targetBytes()),
                Metric.gauge("xpfo_stock_maximum_bytes", "Ceiling on ready, populating and outstanding memory together",
                        stats.maximumBytes()),
                Metric.gauge("xpfo_stock_populating_bytes", "Being populated now, by refill or for a waiting grant",
                        stats.populatingBytes()),
                Metric.gauge("xpfo_outstanding_bytes",
                        "Handed out by grants and not yet confirmed gone: counts against the maximum",
                        stats.handedOutBytes()),
                Metric.counter("xpfo_stock_warmed_bytes_total", "Populated ahead of demand, by warm-up and refill",
                        stats.warmedChunks() * chunk),
                Metric.counter("xpfo_stock_on_demand_bytes_total",
                        "Populated while a grant waited, whether the grant then succeeded or failed",
                        stats.coldChunks() * chunk),
                Metric.counter("xpfo_stock_trimmed_bytes_total",
                        "Ready files closed because a failed grant brought the stock past its target",
                        stats.trimmedChunks() * chunk));
    }

    private void ensureOpen() {
        if (closed) {
            throw new XpfoClosedException("stock");
        }
    }

    /**
     * Stops refill and closes every ready file: their memory returns to the kernel (wiped, back in the
     * direct map) unless a receiver still holds it. Files being populated are closed as they finish.
     * Idempotent.
     */
    @Override
    public void close() {
        List<XpfoFile> closing;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            closing = new ArrayList<>(ready);
            ready.clear();
            stockChanged.signalAll();
            refillWork.signalAll();
        } finally {
            lock.unlock();
        }
        closing.forEach(XpfoFile::close);
        populators.shutdown();
        refillers.shutdown();
        try {
            refiller.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        StockStats stats = stats();
        return "Stock[" + Bytes.format(stats.readyBytes()) + " ready of " + Bytes.format(stats.targetBytes())
                + ", " + Bytes.format(stats.handedOutBytes()) + " handed out]";
    }
}
