// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.span.GuardedSpan;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.host.PhysicalMemory;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.PopulateWorkers;
import dev.xpfo.memory.SecretMemoryUnavailableException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.metrics.Metric;
import dev.xpfo.metrics.MetricSource;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A warm pool of memory already removed from the kernel's direct map: the cache of ready pages of
 * the {@code /dev/xpfo} proposal. Populating secret memory costs a cross-CPU TLB flush per page; the
 * pool pays it ahead of demand ({@link #warm}, or a background refill between watermarks), so a
 * {@link #take} from ready chunks costs no populating at all.
 *
 * <pre>{@code
 * try (PagePool pool = PagePool.open(PoolSettings.defaults().withWatermarks(32 * Bytes.MIB, 64 * Bytes.MIB))) {
 *     pool.warm(64 * Bytes.MIB, PopulateProgress.NONE);
 *     try (Region region = pool.take(16 * Bytes.MIB)) {
 *         MemorySegment memory = region.segment();   // contiguous, guarded, populated
 *         ...
 *     }                                              // wiped and ready again
 * }
 * }</pre>
 *
 * <p>How it works: memory is populated in chunks ({@link PoolSettings#chunkBytes()}, one secret memory
 * file each), every chunk inside an anonymous {@code PROT_NONE} guard reservation. A take of several
 * chunks reserves one guarded span and moves ready chunks into it with {@code mremap}, which moves
 * page-table entries, not pages: nothing is populated again. A returned region is wiped and kept
 * whole, so taking the same size again reuses it without any system call. When too little is ready,
 * the missing chunks are populated on demand in the taking thread (a <em>cold take</em>: counted, and
 * recorded as a {@code dev.xpfo.ColdTake} JFR event).
 *
 * <p>Limits: the pool never holds more than its maximum ({@link PoolStats#maximumBytes()}), ready and in
 * use together, and never more than {@code RLIMIT_MEMLOCK} allows a process without
 * {@code CAP_IPC_LOCK}; past either a take or warm throws {@link PoolLimitException} saying which.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class PagePool implements AutoCloseable, MetricSource {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.pool");
    private static final AtomicBoolean FALLBACK_ANNOUNCED = new AtomicBoolean();

    private final long chunkBytes;
    private final int maximumChunks;
    private final PoolStats.MaximumSource maximumSetBy;
    private final int lowChunks;
    private final int highChunks;
    private final ChunkSource source;
    private final String fallbackReason;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition refillWanted = lock.newCondition();
    /** Signalled whenever chunks join the ready set (or the pool closes), for {@link #awaitReady}. */
    private final Condition readyAdded = lock.newCondition();
    /** Ready spans by how many chunks they hold; each span's chunks are contiguous, populated and wiped. */
    private final TreeMap<Integer, ArrayDeque<GuardedSpan>> ready = new TreeMap<>();
    private int readyChunks;
    private int inUseChunks;
    private int populatingChunks;
    private int peakInUseChunks;
    private boolean refillStalled;
    private volatile boolean closed;

    private final Set<Region> outstanding = ConcurrentHashMap.newKeySet();
    private final Set<AutoCloseable> dependents = ConcurrentHashMap.newKeySet();
    private final LongAdder takes = new LongAdder();
    private final LongAdder coldTakes = new LongAdder();
    private final LongAdder chunksPopulated = new LongAdder();
    private final LongAdder wipes = new LongAdder();
    /**
     * Populates for warm, refill and nothing else, on up to {@link PoolSettings#populateThreads()} threads;
     * stops claiming chunks once the pool closes.
     */
    private final PopulateWorkers populators;
    /** Runs the background refill, if the low watermark is set; closing it waits for the refill to stop. */
    private final ExecutorService refiller;

    private PagePool(PoolSettings settings, ChunkSource source, String fallbackReason) {
        this.chunkBytes = Bytes.roundUp(settings.chunkBytes(), GuardedSpan.PAGE);
        this.source = source;
        this.fallbackReason = fallbackReason;
        this.populators = PopulateWorkers.onNewThreads(settings.populateThreads(), "xpfo-pool-populate")
                .stoppingWhen(() -> closed);

        MemlockLimit memlock = MemlockLimit.current();
        long wanted = settings.maximumBytes();
        PoolStats.MaximumSource setBy = PoolStats.MaximumSource.SETTINGS;
        if (wanted == 0) {
            wanted = PhysicalMemory.totalBytes() / 4;
            setBy = PoolStats.MaximumSource.PHYSICAL_MEMORY;
        }
        if (!memlock.capIpcLock() && memlock.soft() >= 0 && memlock.soft() < wanted) {
            wanted = memlock.soft();
            setBy = PoolStats.MaximumSource.MEMLOCK_LIMIT;
        }
        this.maximumChunks = (int) Math.min(Integer.MAX_VALUE, wanted / chunkBytes);
        this.maximumSetBy = setBy;
        if (maximumChunks == 0) {
            throw new InvalidSizeException("a pool with chunks of " + Bytes.format(chunkBytes) + " cannot have a maximum of "
                    + Bytes.format(wanted) + " (set by " + setBy + "): not even one chunk fits");
        }
        this.lowChunks = (int) Math.min(maximumChunks, Bytes.roundUp(settings.lowWatermarkBytes(), chunkBytes) / chunkBytes);
        this.highChunks = (int) Math.min(maximumChunks, Bytes.roundUp(settings.highWatermarkBytes(), chunkBytes) / chunkBytes);
        if (lowChunks > 0) {
            refiller = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("xpfo-pool-refill").factory());
            refiller.execute(this::refillLoop);
        } else {
            refiller = null;
        }
    }

    /** A pool with {@link PoolSettings#defaults()}. */
    public static PagePool open() {
        return open(PoolSettings.defaults());
    }

    /**
     * Creates a pool. Nothing is populated until {@link #warm}, a take, or the background refill
     * (which starts at once if {@link PoolSettings#lowWatermarkBytes()} is above zero).
     *
     * @throws SecretMemoryUnavailableException if secret memory is unavailable ({@code ENOSYS}: kernel;
     *                                          {@code EPERM}: seccomp) and the policy requires it
     * @throws InvalidSizeException             if the maximum cannot hold a single chunk
     */
    public static PagePool open(PoolSettings settings) {
        try {
            XpfoFile.open().close();
            return new PagePool(settings, new SecretChunkSource(), "");
        } catch (SecretMemoryUnavailableException unavailable) {
            if (settings.policy() == IsolationPolicy.REQUIRE_DIRECT_MAP_REMOVAL) {
                throw unavailable;
            }
            announceFallback(unavailable.getMessage());
            return new PagePool(settings, new LockedChunkSource(), unavailable.getMessage());
        }
    }

    private static void announceFallback(String reason) {
        if (FALLBACK_ANNOUNCED.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "xpfo: SECRET MEMORY IS UNAVAILABLE, so this process's pools fall back, "
                    + "as explicitly allowed, to LOCKED_ONLY memory: locked, not dumped, not forked, but STILL IN THE "
                    + "KERNEL'S DIRECT MAP and readable by root through /proc/PID/mem. Reason: " + reason);
        }
    }

    /** What this pool's memory protects against. */
    public Isolation isolation() {
        return source.isolation();
    }

    /** Why the pool fell back to {@link Isolation#LOCKED_ONLY}; empty if it did not. */
    public String fallbackReason() {
        return fallbackReason;
    }

    /** The unit of populating and of takes, in bytes. */
    public long chunkBytes() {
        return chunkBytes;
    }

    /**
     * Hands out a contiguous region of at least {@code bytes} (rounded up to whole chunks; the segment is
     * exactly {@code bytes} long), zeroed, populated, guarded by {@code PROT_NONE} pages at both ends.
     * Ready chunks are used first; anything missing is populated now, in this thread (a cold take).
     *
     * @throws InvalidSizeException  zero or negative
     * @throws PoolLimitException    the request cannot fit under the pool's maximum or the memlock limit
     * @throws XpfoClosedException   after {@link #close()}
     */
    public Region take(long bytes) {
        if (bytes <= 0) {
            throw new InvalidSizeException("a region needs a positive size, not " + bytes);
        }
        if (bytes > (long) maximumChunks * chunkBytes) {
            throw limit(bytes / chunkBytes, "a region of " + Bytes.format(bytes) + " is larger than the pool may ever hold");
        }
        int chunks = (int) (Bytes.roundUp(bytes, chunkBytes) / chunkBytes);
        List<GuardedSpan> donors;
        int fromReady;
        int missing;
        int surplus;
        lock.lock();
        try {
            ensureOpen();
            takes.increment();
            refillStalled = false;
            ArrayDeque<GuardedSpan> exact = ready.get(chunks);
            if (exact != null) {
                GuardedSpan span = removeFrom(exact, chunks);
                readyChunks -= chunks;
                inUseChunks += chunks;
                peakInUseChunks = Math.max(peakInUseChunks, inUseChunks);
                refillWanted.signalAll();
                return handOut(span, bytes);
            }
            fromReady = Math.min(chunks, readyChunks);
            missing = chunks - fromReady;
            reserveGrowth(missing, "take " + Bytes.format(bytes));
            donors = removeDonors(fromReady);
            surplus = held(donors) - fromReady;
            // Until they are back in the ready set, surplus chunks count as populating, so the pool's
            // total never looks smaller than it is to a concurrent take.
            populatingChunks += surplus;
            inUseChunks += fromReady;
            refillWanted.signalAll();
        } finally {
            lock.unlock();
        }
        return assemble(bytes, chunks, donors, fromReady, missing, surplus);
    }

    private GuardedSpan removeFrom(ArrayDeque<GuardedSpan> spans, int chunks) {
        GuardedSpan span = spans.pop();
        if (spans.isEmpty()) {
            ready.remove(chunks);
        }
        return span;
    }

    /** Takes ready spans, smallest first, until they hold at least {@code chunks}. Lock held. */
    private List<GuardedSpan> removeDonors(int chunks) {
        List<GuardedSpan> donors = new ArrayList<>();
        int gathered = 0;
        while (gathered < chunks) {
            Map.Entry<Integer, ArrayDeque<GuardedSpan>> smallest = ready.firstEntry();
            donors.add(removeFrom(smallest.getValue(), smallest.getKey()));
            gathered += smallest.getKey();
        }
        readyChunks -= gathered;
        return donors;
    }

    private int chunksIn(GuardedSpan span) {
        return (int) (span.dataBytes() / chunkBytes);
    }

    private int held(List<GuardedSpan> spans) {
        return spans.stream().mapToInt(this::chunksIn).sum();
    }

    /**
     * Builds a region: reserves its guarded span (and one per surplus donor chunk) first, so that a
     * refusal leaves every donor as it was; then moves the donors' chunks in; then populates what is
     * missing. If populating fails, the chunks already in place go back to the ready set as they are.
     */
    private Region assemble(long bytes, int chunks, List<GuardedSpan> donors, int fromReady, int missing, int surplus) {
        GuardedSpan target;
        List<GuardedSpan> singles = new ArrayList<>(surplus);
        try {
            target = GuardedSpan.reserve(chunks * chunkBytes);
            try {
                for (int i = 0; i < surplus; i++) {
                    singles.add(GuardedSpan.reserve(chunkBytes));
                }
            } catch (RuntimeException | Error e) {
                target.release();
                throw e;
            }
        } catch (RuntimeException | Error refused) {
            singles.forEach(GuardedSpan::release);
            forgetTake(fromReady, missing + surplus, donors);
            throw refused;
        }

        moveDonors(donors, target, fromReady, singles, surplus, missing);

        int populated = 0;
        if (missing > 0) {
            ColdTakeEvent event = new ColdTakeEvent();
            event.begin();
            try {
                for (; populated < missing; populated++) {
                    fillChunk(target.data() + (long) (fromReady + populated) * chunkBytes);
                }
            } catch (RuntimeException | Error failure) {
                int filled = fromReady + populated;
                if (filled > 0) {
                    forgetTake(fromReady, missing, List.of(target.shrinkTo(filled * chunkBytes)));
                } else {
                    forgetTake(fromReady, missing, List.of());
                    target.release();
                }
                if (failure instanceof MemlockLimitException memlock) {
                    throw memlockLimit(memlock);
                }
                throw failure;
            }
            event.requestedBytes = bytes;
            event.populatedBytes = missing * chunkBytes;
            event.commit();
            coldTakes.increment();
        }
        lock.lock();
        try {
            populatingChunks -= missing;
            inUseChunks += missing;
            if (closed) {
                inUseChunks -= chunks;
                target.release();
                throw new XpfoClosedException("page pool");
            }
            peakInUseChunks = Math.max(peakInUseChunks, inUseChunks);
            return handOut(target, bytes);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Moves the donors' chunks: the first {@code fromReady} into {@code target}, the rest into the
     * reserved singles, which rejoin the ready set. {@code mremap} into a reservation we own fails only
     * when the kernel is out of memory for page tables or mappings; then every chunk of this take is
     * unmapped (it is ours) and the pool shrinks by them rather than losing track of them.
     */
    private void moveDonors(List<GuardedSpan> donors, GuardedSpan target, int fromReady, List<GuardedSpan> singles,
                            int surplus, int missing) {
        int placed = 0;
        int spare = 0;
        int donor = 0;
        try {
            for (; donor < donors.size(); donor++) {
                GuardedSpan span = donors.get(donor);
                for (int i = 0; i < chunksIn(span); i++) {
                    long from = span.data() + i * chunkBytes;
                    if (placed < fromReady) {
                        ChunkSource.move(from, target.data() + placed * chunkBytes, chunkBytes);
                        placed++;
                    } else {
                        ChunkSource.move(from, singles.get(spare).data(), chunkBytes);
                        spare++;
                    }
                }
                span.releaseGuards();
            }
        } catch (RuntimeException | Error failure) {
            target.release();
            singles.forEach(GuardedSpan::release);
            // The failing donor's unmoved chunks and the untouched donors are still ours, whole.
            int movedFromFailing = placed + spare - held(donors.subList(0, donor));
            GuardedSpan failing = donors.get(donor);
            Libc.munmap(failing.data() + movedFromFailing * chunkBytes, failing.dataBytes() - movedFromFailing * chunkBytes);
            failing.releaseGuards();
            donors.subList(donor + 1, donors.size()).forEach(GuardedSpan::release);
            forgetTake(fromReady, missing + surplus, List.of());
            throw failure;
        }
        for (GuardedSpan single : singles) {
            addReady(single, 1);
        }
    }

    /**
     * Takes back what a failed take counted (its ready chunks in use, and what it was populating) and
     * returns what it still holds to the ready set, in one step, so the pool's total never dips below
     * what it holds and a concurrent take cannot grow it past its maximum meanwhile.
     */
    private void forgetTake(int fromReady, int populating, List<GuardedSpan> stillHeld) {
        lock.lock();
        try {
            inUseChunks -= fromReady;
            populatingChunks -= populating;
            for (GuardedSpan span : stillHeld) {
                addReady(span, 0);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Makes a populated chunk and moves it to {@code address}, inside a reservation of ours. */
    private void fillChunk(long address) {
        long made = source.make(chunkBytes);
        try {
            ChunkSource.move(made, address, chunkBytes);
        } catch (RuntimeException | Error e) {
            Libc.munmap(made, chunkBytes);
            throw e;
        }
        chunksPopulated.increment();
    }

    private Region handOut(GuardedSpan span, long bytes) {
        Region region = new Region(this, span, bytes, source.isolation());
        outstanding.add(region);
        return region;
    }

    /**
     * Adds a span to the ready set; {@code wasPopulating} of its chunks stop counting as populating in
     * the same step, so the pool's total never dips.
     */
    private void addReady(GuardedSpan span, int wasPopulating) {
        int chunks = chunksIn(span);
        lock.lock();
        try {
            populatingChunks -= wasPopulating;
            if (closed) {
                span.release();
                return;
            }
            ready.computeIfAbsent(chunks, c -> new ArrayDeque<>()).push(span);
            readyChunks += chunks;
            readyAdded.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Counts {@code chunks} about to be populated against the maximum, or refuses. Lock held. */
    private void reserveGrowth(long chunks, String what) {
        if (chunks == 0) {
            return;
        }
        long committed = (long) readyChunks + inUseChunks + populatingChunks;
        if (committed + chunks > maximumChunks) {
            throw limit(chunks, "cannot " + what + ": it needs " + chunks + " more chunk(s) of " + Bytes.format(chunkBytes)
                    + " and the pool already holds " + Bytes.format(committed * chunkBytes) + " ("
                    + Bytes.format(readyChunks * chunkBytes) + " ready, " + Bytes.format(inUseChunks * chunkBytes)
                    + " in use, " + Bytes.format(populatingChunks * chunkBytes) + " populating)");
        }
        populatingChunks += (int) chunks;
    }

    private PoolLimitException limit(long chunks, String what) {
        long maximum = (long) maximumChunks * chunkBytes;
        if (maximumSetBy == PoolStats.MaximumSource.MEMLOCK_LIMIT) {
            MemlockLimit memlock = MemlockLimit.current();
            MemlockLimitException cause = new MemlockLimitException(chunks * chunkBytes, memlock.soft(), memlock.hard(),
                    memlock.lockedBytes());
            return new PoolLimitException(PoolLimitException.Limit.MEMLOCK, what + "; the pool is capped at "
                    + Bytes.format(maximum) + " by RLIMIT_MEMLOCK. " + cause.getMessage(), cause);
        }
        return new PoolLimitException(PoolLimitException.Limit.MAXIMUM, what + "; the pool's maximum is "
                + Bytes.format(maximum) + (maximumSetBy == PoolStats.MaximumSource.SETTINGS ? " as configured"
                : ", a quarter of physical memory,") + ": raise it with PoolSettings.withMaximumBytes", null);
    }

    private PoolLimitException memlockLimit(MemlockLimitException cause) {
        return new PoolLimitException(PoolLimitException.Limit.MEMLOCK, "the pool cannot populate another chunk of "
                + Bytes.format(chunkBytes) + ": " + cause.getMessage(), cause);
    }

    /**
     * Populates chunks until at least {@code bytes} are ready, on {@link PoolSettings#populateThreads()}
     * threads, reporting progress as chunks complete. Returns at once if enough is ready.
     *
     * @throws PoolLimitException   if that much would exceed the maximum or the memlock limit
     * @throws XpfoClosedException  after {@link #close()}
     */
    public void warm(long bytes, PopulateProgress progress) {
        long wanted = Bytes.roundUp(Math.max(0, bytes), chunkBytes) / chunkBytes;
        int need;
        lock.lock();
        try {
            ensureOpen();
            long missing = Math.max(0, wanted - readyChunks);
            reserveGrowth(missing, "warm " + Bytes.format(bytes));
            need = (int) missing;
        } finally {
            lock.unlock();
        }
        populate(need, "warm", progress);
    }

    /**
     * Populates {@code count} chunks already counted in {@code populatingChunks}, each into a guarded
     * span of its own, several at a time, adding each to the ready set as it completes.
     */
    private void populate(int count, String trigger, PopulateProgress progress) {
        if (count == 0) {
            return;
        }
        PoolRefillEvent event = new PoolRefillEvent();
        event.begin();
        PopulateWorkers.Outcome outcome = populators.reporting(progress, count * chunkBytes).run(count, (index, populated) -> {
            GuardedSpan span = GuardedSpan.reserve(chunkBytes);
            try {
                fillChunk(span.data());
            } catch (RuntimeException | Error e) {
                span.release();
                throw e;
            }
            addReady(span, 1);
            populated.accept(chunkBytes);
        });
        int completed = outcome.completed();
        lock.lock();
        try {
            populatingChunks -= count - completed;
        } finally {
            lock.unlock();
        }
        event.trigger = trigger;
        event.chunks = completed;
        event.bytes = completed * chunkBytes;
        event.threads = outcome.threads();
        event.commit();
        if (outcome.failure() instanceof MemlockLimitException memlock) {
            throw memlockLimit(memlock);
        }
        outcome.throwFailure();
    }

    private void refillLoop() {
        boolean warned = false;
        while (true) {
            int need;
            lock.lock();
            try {
                while (!closed && !refillNeeded()) {
                    refillWanted.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                int committed = readyChunks + inUseChunks + populatingChunks;
                need = Math.min(highChunks - readyChunks - populatingChunks, maximumChunks - committed);
                populatingChunks += need;
            } finally {
                lock.unlock();
            }
            try {
                populate(need, "refill", PopulateProgress.NONE);
                warned = false;
            } catch (RuntimeException e) {
                lock.lock();
                try {
                    refillStalled = true;
                } finally {
                    lock.unlock();
                }
                if (!warned) {
                    warned = true;
                    LOG.log(System.Logger.Level.WARNING, "xpfo: the pool's background refill stopped until the next take: "
                            + e.getMessage());
                }
            }
        }
    }

    private boolean refillNeeded() {
        return !refillStalled && readyChunks + populatingChunks < lowChunks
                && readyChunks + inUseChunks + populatingChunks < maximumChunks;
    }

    /**
     * Waits until at least {@code bytes} are ready (the background refill's work, or a region coming
     * back), the pool closes, or {@code patience} passes; returns whether they are ready. For tests,
     * which wait on the event rather than poll the stats.
     */
    boolean awaitReady(long bytes, Duration patience) throws InterruptedException {
        long nanos = patience.toNanos();
        lock.lock();
        try {
            while (readyChunks * chunkBytes < bytes && !closed && nanos > 0) {
                nanos = readyAdded.awaitNanos(nanos);
            }
            return readyChunks * chunkBytes >= bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Takes back a region: wipes what its owner could reach and keeps it, whole, for the next take. */
    void giveBack(Region region, GuardedSpan span, long bytes) {
        outstanding.remove(region);
        MemorySegment.ofAddress(span.data()).reinterpret(bytes).fill((byte) 0);
        wipes.increment();
        lock.lock();
        try {
            inUseChunks -= chunksIn(span);
            addReady(span, 0);
            refillWanted.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** A reading of the pool's state and counters. */
    public PoolStats stats() {
        lock.lock();
        try {
            return new PoolStats(source.isolation(), chunkBytes, readyChunks * chunkBytes, inUseChunks * chunkBytes,
                    peakInUseChunks * chunkBytes, populatingChunks * chunkBytes, maximumChunks * chunkBytes, maximumSetBy,
                    takes.sum(), coldTakes.sum(), chunksPopulated.sum(), wipes.sum());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Metric> metrics() {
        PoolStats stats = stats();
        return List.of(
                Metric.gauge("xpfo_pool_ready_bytes", "Populated, wiped memory ready to be taken", stats.readyBytes()),
                Metric.gauge("xpfo_pool_in_use_bytes", "Memory handed out and not yet returned", stats.inUseBytes()),
                Metric.gauge("xpfo_pool_peak_in_use_bytes", "The most memory in use at once", stats.peakInUseBytes()),
                Metric.gauge("xpfo_pool_maximum_bytes", "The most the pool will hold", stats.maximumBytes()),
                Metric.counter("xpfo_pool_takes_total", "Regions handed out", stats.takes()),
                Metric.counter("xpfo_pool_cold_takes_total", "Takes that populated memory on demand", stats.coldTakes()),
                Metric.counter("xpfo_pool_chunks_populated_total", "Chunks populated (removed from the direct map)",
                        stats.chunksPopulated()),
                Metric.counter("xpfo_pool_wipes_total", "Regions wiped on return", stats.wipes()));
    }

    private void ensureOpen() {
        if (closed) {
            throw new XpfoClosedException("page pool");
        }
    }

    /**
     * Closes {@code dependent} (something built on this pool, such as a
     * {@link dev.xpfo.secret.SecretStore}) when this pool closes, before the pool's memory goes, so it
     * can stop using that memory first. A dependent that closes earlier should call
     * {@link #forget(AutoCloseable)}.
     */
    public void closeFirst(AutoCloseable dependent) {
        dependents.add(dependent);
    }

    /** Undoes {@link #closeFirst(AutoCloseable)}. */
    public void forget(AutoCloseable dependent) {
        dependents.remove(dependent);
    }

    /**
     * Closes the dependents, stops the refill, wipes and unmaps everything, including regions still
     * handed out: their segments become unusable. Idempotent. A {@link #warm} or cold {@link #take}
     * running in another thread meanwhile fails or finishes on its own; what it populated after this
     * returned is unmapped by that thread, not here.
     *
     * @throws IllegalStateException if a region is in use by a native call right now: that region stays
     *                               mapped until it is closed, everything else is released
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            refillWanted.signalAll();
            readyAdded.signalAll();
        } finally {
            lock.unlock();
        }
        RuntimeException failure = null;
        try {
            for (AutoCloseable dependent : List.copyOf(dependents)) {
                try {
                    dependent.close();
                } catch (Exception e) {
                    failure = failure == null ? new IllegalStateException("closing what depends on the pool failed", e) : failure;
                }
            }
            if (refiller != null) {
                refiller.close();
            }
            for (Region region : List.copyOf(outstanding)) {
                try {
                    region.close();
                } catch (IllegalStateException inUse) {
                    failure = failure == null ? inUse : failure;
                }
            }
        } finally {
            lock.lock();
            try {
                for (ArrayDeque<GuardedSpan> spans : ready.values()) {
                    spans.forEach(GuardedSpan::release);
                }
                ready.clear();
                readyChunks = 0;
            } finally {
                lock.unlock();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        PoolStats stats = stats();
        return "PagePool[" + stats.isolation() + ", " + Bytes.format(stats.readyBytes()) + " ready, "
                + Bytes.format(stats.inUseBytes()) + " in use, max " + Bytes.format(stats.maximumBytes()) + "]";
    }
}
