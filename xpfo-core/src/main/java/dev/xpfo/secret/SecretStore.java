// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.metrics.Metric;
import dev.xpfo.metrics.MetricSource;
import dev.xpfo.pool.Isolation;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.Region;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where {@link Secret}s live: small secrets (1 byte to 16 KiB) packed into slots of chunks taken from a
 * {@link PagePool}, so a million live secrets need a few hundred mappings, not a million (the kernel
 * allows about 65,530 per process), and allocating one costs no system call once a chunk is in hand.
 *
 * <pre>{@code
 * try (PagePool pool = PagePool.open(); SecretStore store = SecretStore.open(pool)) {
 *     try (Secret key = store.copyOf(keyBytes)) {       // keyBytes is wiped
 *         key.readOnly(bytes -> cipher.init(bytes));     // a view valid only inside the call
 *     }                                                  // wiped, slot reused
 * }
 * }</pre>
 *
 * <p>Protection: each chunk sits between anonymous {@code PROT_NONE} guard pages; each slot has a
 * canary before and right after the secret, checked when it is destroyed; every destroy wipes. A secret
 * that is never destroyed is wiped by a cleaner thread once unreachable, and the leak is logged and
 * counted. Allocation is striped by thread, so threads rarely meet on a lock.
 *
 * <p>Memory is never given back to the pool while the store is open: freed slots are reused. Closing
 * the store (or its pool) wipes every slot and returns the chunks; secrets still alive become unusable.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class SecretStore implements AutoCloseable, MetricSource {
    /** The largest secret a store holds; larger memory comes from {@link PagePool#take} directly. */
    public static final int MAX_SECRET_BYTES = SizeClasses.LARGEST;
    /** What a stripe's size class takes at a time: room for 3 of the largest slots, 2,730 of 8 bytes. */
    static final long SLAB_BYTES = 64 * 1024;

    private static final System.Logger LOG = System.getLogger("dev.xpfo.secret");
    private static final ValueLayout.OfLong CANARY = ValueLayout.JAVA_LONG_UNALIGNED;
    /** Threads are numbered in the order they first allocate, so the first few never share a stripe. */
    private static final AtomicInteger THREADS_SEEN = new AtomicInteger();
    private static final ThreadLocal<Integer> THREAD_NUMBER = ThreadLocal.withInitial(THREADS_SEEN::getAndIncrement);

    private final PagePool pool;
    private final boolean ownsPool;
    private final Stripe[] stripes;
    private final long canaryKey = new SecureRandom().nextLong();
    private final List<Region> slabs = new CopyOnWriteArrayList<>();
    /** The newest chunk and how much of it is carved into slabs; guarded by this store's lock. */
    private MemorySegment chunk;
    private long carved;
    private volatile boolean closed;

    private final LongAdder live = new LongAdder();
    private final LongAdder bytesInUse = new LongAdder();
    private final LongAdder allocations = new LongAdder();
    private final LongAdder wipes = new LongAdder();
    private final LongAdder canaryFailures = new LongAdder();
    private final LongAdder leakCleanups = new LongAdder();

    private SecretStore(PagePool pool, boolean ownsPool) {
        this.pool = pool;
        this.ownsPool = ownsPool;
        int count = Integer.highestOneBit(Math.max(4, Runtime.getRuntime().availableProcessors() * 4) - 1) << 1;
        this.stripes = new Stripe[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = new Stripe();
        }
    }

    /**
     * A store whose slots come from {@code pool}; closing the store does not close the pool, closing the
     * pool closes the store.
     */
    public static SecretStore open(PagePool pool) {
        return attached(new SecretStore(pool, false));
    }

    /**
     * A store with a pool of its own, with default settings (direct-map removal required), closed with it.
     *
     * @throws dev.xpfo.memory.SecretMemoryUnavailableException if the kernel cannot give secret memory
     */
    public static SecretStore open() {
        return attached(new SecretStore(PagePool.open(), true));
    }

    private static SecretStore attached(SecretStore store) {
        store.pool.closeFirst(store);
        return store;
    }

    /** What the store's memory protects against: its pool's isolation. */
    public Isolation isolation() {
        return pool.isolation();
    }

    /**
     * A new secret of {@code bytes}, all zero.
     *
     * @throws InvalidSizeException                 below 1 or above {@link #MAX_SECRET_BYTES}
     * @throws dev.xpfo.pool.PoolLimitException     if a new chunk is needed and the pool cannot grow
     * @throws XpfoClosedException                  after {@link #close()}
     */
    public Secret allocate(int bytes) {
        if (bytes < 1 || bytes > MAX_SECRET_BYTES) {
            throw new InvalidSizeException("a secret holds 1 to " + MAX_SECRET_BYTES + " bytes, not " + bytes
                    + "; take larger memory from PagePool.take");
        }
        ensureOpen();
        int sizeClass = SizeClasses.of(bytes);
        Stripe stripe = stripes[stripeIndex()];
        Secret secret;
        // One step under the stripe's lock: closing the store cannot slip in between handing out the
        // slot and writing its canaries.
        synchronized (stripe) {
            MemorySegment slot = stripe.take(sizeClass, this::newSlab);
            long back = SizeClasses.CANARY_BYTES + bytes;
            slot.set(CANARY, 0, canary(slot.address()));
            slot.set(CANARY, back, canary(slot.address() + back));
            secret = new Secret(slot.asSlice(SizeClasses.CANARY_BYTES, bytes), pool.isolation(), this);
            LeakWatch.Tracked tracked = new LeakWatch.Tracked(secret, this, slot, bytes, sizeClass, stripe);
            secret.watchedBy(tracked);
            stripe.track(tracked);
        }
        live.increment();
        bytesInUse.add(bytes);
        allocations.increment();
        return secret;
    }

    /** A secret holding {@code source}'s bytes; {@code source} is then filled with zeros. */
    public Secret copyOf(byte[] source) {
        Secret secret = allocate(source.length);
        secret.write(0, MemorySegment.ofArray(source));
        Arrays.fill(source, (byte) 0);
        return secret;
    }

    /**
     * A secret holding {@code source}'s chars as UTF-16 code units in native byte order (2 bytes each),
     * readable back with {@link Secret#read(char[])}; {@code source} is then filled with {@code '\0'}.
     * No {@code String} is ever made.
     */
    public Secret copyOf(char[] source) {
        Secret secret = allocate(source.length * 2);
        secret.write(0, MemorySegment.ofArray(source));
        Arrays.fill(source, '\0');
        return secret;
    }

    /**
     * A secret holding {@code source}'s remaining bytes, which are then overwritten with zeros; the
     * buffer's position moves to its limit.
     *
     * @throws IllegalArgumentException if the buffer is read-only and so cannot be wiped
     */
    public Secret copyOf(ByteBuffer source) {
        if (source.isReadOnly()) {
            throw new IllegalArgumentException("a read-only buffer cannot be wiped after copying; pass a writable one");
        }
        MemorySegment remaining = MemorySegment.ofBuffer(source);
        Secret secret = allocate((int) remaining.byteSize());
        secret.write(0, remaining);
        remaining.fill((byte) 0);
        source.position(source.limit());
        return secret;
    }

    /** A secret holding a copy of {@code source} (which is left as it is: the caller owns that memory). */
    public Secret copyOf(MemorySegment source) {
        Secret secret = allocate((int) Math.min(Integer.MAX_VALUE, source.byteSize()));
        secret.write(0, source);
        return secret;
    }

    private int stripeIndex() {
        return THREAD_NUMBER.get() & (stripes.length - 1);
    }

    /**
     * A slab of {@link #SLAB_BYTES} for one stripe's size class, carved from the current pool chunk (a
     * new chunk when it is used up). Slabs are smaller than chunks so that a few size classes on a few
     * threads do not each hold a whole chunk: an ordinary user's memlock limit is often 8 MiB.
     */
    private synchronized MemorySegment newSlab() {
        ensureOpen();
        if (chunk == null || carved + SLAB_BYTES > chunk.byteSize()) {
            Region region = pool.take(Math.max(SLAB_BYTES, pool.chunkBytes()));
            slabs.add(region);
            chunk = region.segment();
            carved = 0;
        }
        MemorySegment slab = chunk.asSlice(carved, SLAB_BYTES);
        carved += SLAB_BYTES;
        return slab;
    }

    private long canary(long address) {
        long mixed = (canaryKey ^ address) * 0x9E3779B97F4A7C15L;
        return mixed ^ (mixed >>> 29);
    }

    /**
     * Wipes a secret's slot and makes it free again: on {@link Secret#close()}, or from the leak watch
     * after the secret became unreachable. Runs once per secret; a slot whose canaries were overwritten
     * is wiped but retired.
     *
     * @throws CanaryCorruptedException on an explicit close that found a canary overwritten
     */
    void release(LeakWatch.Tracked tracked, boolean leaked) {
        MemorySegment slot = tracked.slot;
        int bytes = tracked.size;
        long back = SizeClasses.CANARY_BYTES + bytes;
        boolean frontIntact;
        boolean backIntact;
        // Under the stripe's lock, so that closing the store (which marks every stripe closed under its
        // lock before returning the chunks) can never pull the memory away in the middle of a wipe.
        synchronized (tracked.stripe) {
            if (tracked.stripe.isClosed() || !tracked.stripe.untrack(tracked)) {
                return; // the store already wiped and returned every chunk, or this secret was released before
            }
            frontIntact = slot.get(CANARY, 0) == canary(slot.address());
            backIntact = slot.get(CANARY, back) == canary(slot.address() + back);
            slot.fill((byte) 0);
            if (frontIntact && backIntact) {
                tracked.stripe.put(tracked.sizeClass, slot);
            }
        }
        wipes.increment();
        live.decrement();
        bytesInUse.add(-bytes);
        if (leaked) {
            leakCleanups.increment();
            LOG.log(System.Logger.Level.WARNING, "xpfo: a Secret of " + bytes + " bytes was never destroyed; "
                    + "the cleaner wiped it after it became unreachable. Close secrets (try-with-resources) when done.");
        }
        if (!frontIntact || !backIntact) {
            canaryFailures.increment();
            String message = "xpfo: the " + (frontIntact ? "" : "front ") + (frontIntact || backIntact ? "" : "and ")
                    + (backIntact ? "" : "back ") + "canary of a Secret of " + bytes + " bytes was overwritten: "
                    + "memory next to it was written out of bounds. The secret was wiped and its slot retired.";
            LOG.log(System.Logger.Level.ERROR, message);
            if (!leaked) {
                throw new CanaryCorruptedException(message);
            }
        }
    }

    void ensureOpen() {
        if (closed) {
            throw new XpfoClosedException("secret store");
        }
    }

    /** A reading of the store's counters. */
    public SecretStats stats() {
        return new SecretStats(pool.isolation(), live.sum(), bytesInUse.sum(), slabs.stream().mapToLong(Region::byteSize).sum(),
                allocations.sum(), wipes.sum(), canaryFailures.sum(), leakCleanups.sum());
    }

    @Override
    public List<Metric> metrics() {
        SecretStats stats = stats();
        return List.of(
                Metric.gauge("xpfo_secrets_live", "Secrets allocated and not yet destroyed", stats.liveSecrets()),
                Metric.gauge("xpfo_secrets_in_use_bytes", "Bytes held by live secrets", stats.bytesInUse()),
                Metric.gauge("xpfo_secrets_slab_bytes", "Pool memory holding secret slots", stats.slabBytes()),
                Metric.counter("xpfo_secrets_allocated_total", "Secrets allocated", stats.allocations()),
                Metric.counter("xpfo_secrets_wipes_total", "Secrets wiped on destroy or by the cleaner", stats.wipes()),
                Metric.counter("xpfo_secrets_canary_failures_total", "Destroys that found an overwritten canary",
                        stats.canaryFailures()),
                Metric.counter("xpfo_secrets_leak_cleanups_total", "Secrets never destroyed, wiped by the cleaner",
                        stats.leakCleanups()));
    }

    /**
     * Wipes every slot, returns the chunks to the pool (and closes the pool if the store opened it).
     * Secrets still alive become unusable. Idempotent. Closing the pool closes its stores first. Do not
     * close while other threads are inside a secret's read or write.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (Stripe stripe : stripes) {
            stripe.close();
        }
        // Every slot is about to be wiped with its chunk: no secret is live or holds bytes any more.
        live.reset();
        bytesInUse.reset();
        for (Region slab : slabs) {
            slab.close();
        }
        pool.forget(this);
        if (ownsPool) {
            pool.close();
        }
    }

    boolean isClosed() {
        return closed;
    }
}
