// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.crypto.CryptoHeapException;
import dev.xpfo.crypto.libcrypto.HeapLibrary;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.metrics.MetricSource;
import dev.xpfo.pool.Isolation;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.pool.Region;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Owner of libcrypto's heap: once per process, points {@code CRYPTO_set_mem_functions} at xpfo's
 * native allocator ({@link HeapLibrary}), whose memory is secret-memory chunks of a {@link PagePool}
 * (out of the kernel's direct map), before libcrypto's first allocation.
 *
 * <p>Installing proves that every pointer libcrypto will ever free came from our allocator:
 * {@code CRYPTO_get_mem_functions} still returns libcrypto's own defaults (nobody hooked it before),
 * {@code CRYPTO_set_mem_functions} returns 1 (libcrypto has not allocated on its default path yet) and
 * reading back returns ours; libcrypto's secure heap (an mmap arena still in the direct map, outside
 * the hook) must be off. Then {@code OPENSSL_init_crypto(NO_ATEXIT | NO_LOAD_CONFIG)}: no cleanup at
 * exit while other threads may still be inside libcrypto, and no openssl.cnf that could load engines.
 *
 * <p>Chunks given to the allocator are never returned or unmapped: libcrypto frees into them from
 * thread-exit destructors, after the JVM is gone. Growing ahead of need: when the arenas' uncarved bytes
 * fall below a low watermark (a quarter of a pool chunk), malloc wakes a daemon thread (through an
 * eventfd, without calling Java) that adds a chunk. The last resort is malloc's slow path calling back
 * into Java for a chunk (an upcall, holding no lock). A shutdown hook closes that callback and waits for
 * the threads inside it: afterwards no thread calls the upcall stub, and an allocation that finds no room
 * fails (libcrypto reports a malloc failure; it never falls back to libc's malloc).
 *
 * <p>How big the heap may grow: every chunk is locked secret memory, so the memlock limit
 * ({@code RLIMIT_MEMLOCK}) bounds it, and so does a maximum, {@value #MAX_BYTES_PROPERTY} (bytes, or with a
 * {@code k}/{@code m}/{@code g} suffix; default {@value #DEFAULT_MAX_BYTES} bytes, 1 GiB, roughly 300,000 live EC
 * P-256 key pairs), which also bounds a process whose user may lock without limit (root): no chunk is taken
 * past it. At either bound malloc returns NULL, libcrypto reports a malloc failure and the operation throws an
 * {@link dev.xpfo.crypto.OpenSslException} naming the heap's size and the remedy. The property is read once,
 * when the heap is installed. Nor does malloc call
 * Java from a thread's exit destructors (after the JVM detached the thread) or in a forked child. {@link Runtime#halt}
 * skips shutdown hooks: a native thread allocating past the last chunk after a halt could still call the
 * stub of a JVM that is gone.
 *
 * <p>Any refusal throws {@link CryptoHeapException}, now and on every later call: libcrypto never runs
 * on the ordinary heap. Once installed, {@link #ensureInstalled()} also refuses whenever libcrypto's
 * secure heap has been initialised since (it would take private key material and nonces out of the
 * hook, into an arena in the direct map): key generation, import and signing call it first.
 */
public final class CryptoHeap {
    private static final List<Region> CHUNKS = new CopyOnWriteArrayList<>();
    /** Taken while adding a chunk (grow upcall or refill thread): one chunk for one shortage, not one per thread. */
    private static final Object GROWING = new Object();
    private static final AtomicLong REFILLS_AHEAD = new AtomicLong();
    private static final AtomicLong REFILL_FAILURES = new AtomicLong();
    /** The system property that sets the heap's maximum arena bytes. */
    public static final String MAX_BYTES_PROPERTY = "xpfo.crypto.heap.maxBytes";
    /** The maximum arena bytes unless {@value #MAX_BYTES_PROPERTY} says otherwise: 1 GiB. */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;
    private static PagePool pool;
    private static long lowWatermark;
    private static volatile boolean installed;
    private static CryptoHeapException refusal;

    private CryptoHeap() {
    }

    /**
     * Installs the allocator once, or refuses; never lets libcrypto run on the ordinary heap. Once
     * installed, each call checks (one downcall) that libcrypto's secure heap is still off: call it before
     * libcrypto creates or uses private key material.
     *
     * @throws CryptoHeapException if libcrypto was used (or hooked) before, its secure heap is on (now or
     *                             since installing), secret memory is unavailable, or the memlock limit
     *                             cannot hold a chunk; an install refusal is repeated on every later call
     */
    public static void ensureInstalled() {
        if (!installed) {
            installOnce();
        }
        if (LibCrypto.cryptoSecureMallocInitialized() != 0) {
            throw new CryptoHeapException("libcrypto's secure heap was initialised after xpfo installed its heap "
                    + "(CRYPTO_secure_malloc_init): libcrypto would put private keys and signing nonces in its mmap arena, "
                    + "which is in the kernel's direct map, outside xpfo's allocator; XPFO refuses to create, import or use "
                    + "keys. Remedy: do not initialise OpenSSL's secure heap in a process that uses the XPFO provider");
        }
    }

    private static synchronized void installOnce() {
        if (installed) {
            return;
        }
        if (refusal != null) {
            throw new CryptoHeapException(refusal.getMessage(), refusal);
        }
        try {
            install();
            installed = true;
        } catch (CryptoHeapException e) {
            refusal = e;
            throw e;
        } catch (RuntimeException | LinkageError e) {
            // e.g. the allocator's library missing from the jar (built without cc) or not loadable here
            refusal = new CryptoHeapException("xpfo could not set up libcrypto's secret-memory heap: " + e
                    + ". Remedy: libcrypto.so.3 (OpenSSL 3) installed, and an xpfo-crypto jar built with a C compiler", e);
            throw refusal;
        }
    }

    /** What the allocator holds now. */
    public static CryptoHeapStats stats() {
        return new CryptoHeapStats(HeapLibrary.arenaBytes(), HeapLibrary.inUseBytes(), HeapLibrary.unusedBytes(),
                HeapLibrary.foreignFrees(), HeapLibrary.failedMallocs(), HeapLibrary.growRequests(), REFILLS_AHEAD.get(),
                REFILL_FAILURES.get(), HeapLibrary.maxBytes());
    }

    /** The allocator's counters for a metrics endpoint, read afresh each time. */
    public static MetricSource metricSource() {
        return () -> stats().metrics();
    }

    private static void install() {
        MemorySegment malloc = LibCrypto.address("CRYPTO_malloc");
        MemorySegment realloc = LibCrypto.address("CRYPTO_realloc");
        MemorySegment free = LibCrypto.address("CRYPTO_free");
        if (!current().equals(List.of(malloc.address(), realloc.address(), free.address()))) {
            throw usedBefore("CRYPTO_get_mem_functions returned another allocator than libcrypto's own: something in this "
                    + "process installed one before xpfo");
        }
        if (LibCrypto.cryptoSecureMallocInitialized() != 0) {
            throw new CryptoHeapException("libcrypto's secure heap is initialised (CRYPTO_secure_malloc_init): it keeps "
                    + "private keys in an mmap arena that is still in the kernel's direct map, outside xpfo's allocator. "
                    + "Remedy: do not initialise OpenSSL's secure heap in a process that uses the XPFO provider");
        }
        HeapLibrary.setMaxBytes(maxBytes());
        addChunk(firstChunk());
        if (LibCrypto.cryptoSetMemFunctions(HeapLibrary.mallocAddress(), HeapLibrary.reallocAddress(),
                HeapLibrary.freeAddress()) != 1) {
            throw usedBefore("CRYPTO_set_mem_functions returned 0: libcrypto has already allocated on its own heap");
        }
        if (!current().equals(List.of(HeapLibrary.mallocAddress().address(), HeapLibrary.reallocAddress().address(),
                HeapLibrary.freeAddress().address()))) {
            throw usedBefore("CRYPTO_get_mem_functions does not return xpfo's allocator after CRYPTO_set_mem_functions");
        }
        try {
            if (HeapLibrary.setGrow(HeapLibrary.growCallback(MethodHandles.lookup().findStatic(CryptoHeap.class, "grow",
                    HeapLibrary.growType()))) != 0) {
                throw new IllegalStateException("xpfo_heap_set_grow refused the grow callback");
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("CryptoHeap.grow is missing", e);
        }
        // after the hook no thread enters the upcall stub (the JVM is going): allocations then come from
        // free space or fail with NULL. The hook waits for threads inside the callback, which only takes a chunk.
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("xpfo-crypto-heap-close").unstarted(HeapLibrary::closeGrow));
        startRefill(pool.chunkBytes() / 4);
        if (LibCrypto.opensslInitCrypto(LibCrypto.OPENSSL_INIT_NO_ATEXIT | LibCrypto.OPENSSL_INIT_NO_LOAD_CONFIG,
                MemorySegment.NULL) != 1) {
            throw new CryptoHeapException("OPENSSL_init_crypto failed with xpfo's allocator installed ("
                    + stats() + "). Remedy: raise the memlock limit (ulimit -l) so xpfo can take more secret memory");
        }
        if (LibCrypto.cryptoSecureMallocInitialized() != 0) {
            throw new CryptoHeapException("libcrypto's secure heap became initialised during OPENSSL_init_crypto: its "
                    + "mmap arena is in the kernel's direct map. Remedy: do not initialise OpenSSL's secure heap");
        }
    }

    private static List<Long> current() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cells = arena.allocate(ADDRESS, 3);
            LibCrypto.cryptoGetMemFunctions(cells, cells.asSlice(ADDRESS.byteSize()), cells.asSlice(2 * ADDRESS.byteSize()));
            return List.of(cells.getAtIndex(ADDRESS, 0).address(), cells.getAtIndex(ADDRESS, 1).address(),
                    cells.getAtIndex(ADDRESS, 2).address());
        }
    }

    private static CryptoHeapException usedBefore(String what) {
        return new CryptoHeapException("libcrypto was used before xpfo could take over its heap (" + what + "), so keys "
                + "would land on the ordinary heap; the XPFO provider refuses to run. Remedy: make the XPFO provider the "
                + "first user of libcrypto in this process (load it before netty-tcnative, PKCS#11 modules or other native "
                + "code using OpenSSL)");
    }

    private static Region firstChunk() {
        try {
            pool = PagePool.open(PoolSettings.defaults());
            if (pool.isolation() != Isolation.DIRECT_MAP_REMOVED) {
                throw new CryptoHeapException("xpfo's pool for libcrypto's heap is " + pool.isolation()
                        + ", not out of the kernel's direct map. Remedy: a kernel with memfd_secret (secretmem.enable=1)");
            }
            return pool.take(pool.chunkBytes());
        } catch (CryptoHeapException e) {
            throw e;
        } catch (XpfoException e) {
            throw new CryptoHeapException("libcrypto's heap needs secret memory and cannot get it: " + e.getMessage()
                    + ". Remedy: a kernel with memfd_secret, and a memlock limit (ulimit -l, systemd LimitMEMLOCK=) of at "
                    + "least " + (PoolSettings.DEFAULT_CHUNK_BYTES >> 20) + " MiB for this user", e);
        }
    }

    /** The maximum from {@value #MAX_BYTES_PROPERTY}, at least one pool chunk; refuses a value it cannot read. */
    static long maxBytes() {
        String value = System.getProperty(MAX_BYTES_PROPERTY);
        if (value == null) {
            return DEFAULT_MAX_BYTES;
        }
        String digits = value.strip().toLowerCase(Locale.ROOT);
        int shift = digits.endsWith("k") ? 10 : digits.endsWith("m") ? 20 : digits.endsWith("g") ? 30 : 0;
        if (shift != 0) {
            digits = digits.substring(0, digits.length() - 1);
        }
        long bytes;
        try {
            bytes = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            bytes = -1;
        }
        if (bytes < PoolSettings.DEFAULT_CHUNK_BYTES >> shift || bytes > Long.MAX_VALUE >> shift) {
            throw new CryptoHeapException(MAX_BYTES_PROPERTY + "=" + value + " is not a size of at least one chunk ("
                    + PoolSettings.DEFAULT_CHUNK_BYTES + " bytes). Remedy: bytes, or a number with k, m or g, e.g. 512m");
        }
        return bytes << shift;
    }

    /** Whether another chunk of {@code bytes} stays within the maximum: checked before taking it from the pool. */
    private static boolean withinMaximum(long bytes) {
        return HeapLibrary.arenaBytes() + bytes <= HeapLibrary.maxBytes();
    }

    private static void addChunk(Region chunk) {
        MemorySegment memory = chunk.segment();
        if (HeapLibrary.addChunk(memory, memory.byteSize()) != 0) {
            chunk.close();
            throw new CryptoHeapException("xpfo's crypto heap refused a chunk of " + memory.byteSize() + " bytes (holding "
                    + HeapLibrary.arenaBytes() + " of at most " + HeapLibrary.maxBytes() + " bytes, " + MAX_BYTES_PROPERTY + ")");
        }
        CHUNKS.add(chunk); // for good: the allocator may free into it after the JVM is gone
    }

    /**
     * The allocator's grow callback, an upcall from malloc's slow path (the last resort: the refill thread
     * normally adds chunks first): 1 if the heap grew since the caller looked ({@code arenaBytesSeen}),
     * by this call or another. Never throws.
     */
    private static int grow(long minimumBytes, long arenaBytesSeen) {
        try {
            synchronized (GROWING) {
                if (HeapLibrary.arenaBytes() != arenaBytesSeen) {
                    return 1; // another thread added a chunk while this one waited: malloc tries again
                }
                long bytes = Math.max(pool.chunkBytes(), (minimumBytes + pool.chunkBytes() - 1) / pool.chunkBytes() * pool.chunkBytes());
                if (!withinMaximum(bytes)) {
                    return 0; // at the maximum: malloc returns NULL, libcrypto reports a malloc failure
                }
                addChunk(pool.take(bytes));
                return 1;
            }
        } catch (Throwable t) {
            return 0; // an exception escaping an upcall would end the JVM; malloc returns NULL instead
        }
    }

    /** Turns on refill ahead of need below {@code watermark} uncarved bytes, served by a daemon thread. */
    private static void startRefill(long watermark) {
        lowWatermark = watermark;
        Thread refill = Thread.ofPlatform().daemon().name("xpfo-crypto-heap-refill").unstarted(CryptoHeap::refillLoop);
        if (HeapLibrary.setLowWatermark(watermark) != 0) {
            throw new CryptoHeapException("xpfo_heap_set_low_watermark failed: eventfd errno " + HeapLibrary.errno()
                    + ". Remedy: raise the open-file limit (ulimit -n)");
        }
        refill.start();
    }

    /** The refill thread: blocked in C until malloc's uncarved bytes fall below the watermark, then adds a chunk. */
    private static void refillLoop() {
        while (HeapLibrary.awaitRefill() == 1) {
            synchronized (GROWING) {
                if (HeapLibrary.unusedBytes() >= lowWatermark) {
                    continue; // a grow upcall added one meanwhile
                }
                if (!withinMaximum(pool.chunkBytes())) {
                    REFILL_FAILURES.incrementAndGet(); // at the maximum: nothing more to take
                    continue;
                }
                try {
                    addChunk(pool.take(pool.chunkBytes()));
                    REFILLS_AHEAD.incrementAndGet();
                } catch (RuntimeException e) {
                    // e.g. the memlock limit: malloc's upcall will try again when it really needs memory
                    REFILL_FAILURES.incrementAndGet();
                }
            }
        }
    }
}
