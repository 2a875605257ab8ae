// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import dev.xpfo.client.ServiceSocket;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings of xpfo's native allocator for libcrypto ({@code xpfo_crypto_heap.c}, built into the jar as
 * {@code dev/xpfo/crypto/heap/linux-ARCH/libxpfo-crypto-heap.so}): C-shaped, one {@code static final
 * MethodHandle} per function, raw results.
 *
 * <p>Loading this class extracts the library into a new directory only its owner can enter (mode
 * 0700, refused if anybody else could write it), loads it for the life of the process and deletes the
 * file at once: the mapping stays, nobody can swap the file afterwards.
 */
public final class HeapLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup HEAP = load(extract());

    /** Loads the library for good, then deletes its file and directory: the mapping stays. */
    private static SymbolLookup load(Path library) {
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
        try {
            Files.deleteIfExists(library);
            Files.deleteIfExists(library.getParent());
        } catch (IOException e) {
            // left for deleteOnExit
        }
        return lookup;
    }

    private static MemorySegment symbol(String name) {
        return HEAP.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libxpfo-crypto-heap.so has no symbol " + name));
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    /** A function whose errno is captured per call (read it with {@link #errno()}); the capture cell comes first. */
    private static MethodHandle functionWithErrno(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor, Linker.Option.captureCallState("errno"));
    }

    /** The errno of this thread's last call of a function that sets it ({@link #setLowWatermark}, {@link #awaitRefill}). */
    public static int errno() {
        return (int) ERRNO.get(CAPTURED.get(), 0L);
    }

    /** The resource name of the library for this JVM's architecture. */
    static String resource() {
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> throw new UnsatisfiedLinkError("xpfo's crypto heap has no build for " + System.getProperty("os.arch")
                    + " (x86_64 and aarch64 only)");
        };
        return "/dev/xpfo/crypto/heap/linux-" + arch + "/libxpfo-crypto-heap.so";
    }

    private static Path extract() {
        String resource = resource();
        try (InputStream in = HeapLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError(resource + " is missing from the xpfo-crypto jar: it was built without its native "
                        + "allocator (building needs a C compiler, cc)");
            }
            Path directory = Files.createTempDirectory("xpfo-crypto-heap",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(directory);
            // the directory's owner must be this process's effective user, from the kernel (not /proc/self's
            // owner, which is root once the process is non-dumpable)
            Object owner = Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            Object self = ServiceSocket.currentUid();
            if (mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)
                    || !owner.equals(self) || !Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
                throw new UnsatisfiedLinkError("refusing to load xpfo's crypto heap from " + directory
                        + ": somebody else could write that directory (mode " + PosixFilePermissions.toString(mode) + ", owner uid "
                        + owner + ", this process's uid " + self + ")");
            }
            Path library = directory.resolve("libxpfo-crypto-heap.so");
            Files.copy(in, library);
            directory.toFile().deleteOnExit();
            library.toFile().deleteOnExit();
            return library;
        } catch (IOException e) {
            throw new UncheckedIOException("extracting xpfo's crypto heap library failed", e);
        }
    }

    private HeapLibrary() {
    }

    // ---- the three functions libcrypto calls (their addresses go to CRYPTO_set_mem_functions) ----
    private static final MethodHandle MALLOC = function("xpfo_heap_malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle REALLOC = function("xpfo_heap_realloc",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle FREE = function("xpfo_heap_free", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT));
    // ---- what Java drives ----
    private static final MethodHandle ADD_CHUNK = function("xpfo_heap_add_chunk", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle SET_GROW = function("xpfo_heap_set_grow", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle CLOSE_GROW = function("xpfo_heap_close_grow", FunctionDescriptor.ofVoid());
    private static final MethodHandle SET_LOW_WATERMARK = functionWithErrno("xpfo_heap_set_low_watermark",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle AWAIT_REFILL = functionWithErrno("xpfo_heap_await_refill", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle UNUSED_BYTES = function("xpfo_heap_unused_bytes", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle LOW_WATERMARK = function("xpfo_heap_low_watermark", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ARENA_BYTES = function("xpfo_heap_arena_bytes", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle IN_USE_BYTES = function("xpfo_heap_in_use_bytes", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle FOREIGN_FREES = function("xpfo_heap_foreign_frees", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle FAILED_MALLOCS = function("xpfo_heap_failed_mallocs", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle GROW_REQUESTS = function("xpfo_heap_grow_requests", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle SET_MAX_BYTES = function("xpfo_heap_set_max_bytes", FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle MAX_BYTES = function("xpfo_heap_max_bytes", FunctionDescriptor.of(JAVA_LONG));

    /** The address of {@code xpfo_heap_malloc}, a {@code CRYPTO_malloc_fn}. */
    public static MemorySegment mallocAddress() {
        return symbol("xpfo_heap_malloc");
    }

    /** The address of {@code xpfo_heap_realloc}, a {@code CRYPTO_realloc_fn}. */
    public static MemorySegment reallocAddress() {
        return symbol("xpfo_heap_realloc");
    }

    /** The address of {@code xpfo_heap_free}, a {@code CRYPTO_free_fn}. */
    public static MemorySegment freeAddress() {
        return symbol("xpfo_heap_free");
    }

    /** {@code xpfo_heap_malloc}: a block of at least {@code bytes} from the chunks; NULL if 0 or no room. */
    public static MemorySegment malloc(long bytes) {
        try {
            return (MemorySegment) MALLOC.invokeExact(bytes, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /** {@code xpfo_heap_realloc}: NULL → malloc, 0 → free and NULL, else the block moved or kept. */
    public static MemorySegment realloc(MemorySegment block, long bytes) {
        try {
            return (MemorySegment) REALLOC.invokeExact(block, bytes, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /** {@code xpfo_heap_free}: wipes and frees a block of ours; anything else is counted, never written. */
    public static void free(MemorySegment block) {
        try {
            FREE.invokeExact(block, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /**
     * {@code xpfo_heap_add_chunk}: 0, or -1 if the chunk is unusable, would take the arena bytes past
     * {@link #maxBytes()}, or the arena table (65,536 chunks) is full.
     */
    public static int addChunk(MemorySegment base, long bytes) {
        try {
            return (int) ADD_CHUNK.invokeExact(base, bytes);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /**
     * {@code xpfo_heap_set_grow}: the {@code int (*)(size_t bytes, size_t arena_bytes_seen)} malloc's slow
     * path calls for another chunk. 0, or -1 for NULL or once {@link #closeGrow} has run (closing is for good).
     */
    public static int setGrow(MemorySegment callback) {
        try {
            return (int) SET_GROW.invokeExact(callback);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /**
     * {@code xpfo_heap_close_grow}: clears the grow callback for good and returns once no thread is between
     * loading it and returning from it, so none calls the upcall stub again (after the JVM is gone).
     * Blocks while a thread is inside the callback: never call it from the callback.
     */
    public static void closeGrow() {
        try {
            CLOSE_GROW.invokeExact();
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /** An upcall stub for {@link #setGrow}, in {@link Arena#global()} (a freed stub could be called later). */
    public static MemorySegment growCallback(MethodHandle target) {
        return LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), Arena.global());
    }

    /** The method type a grow callback's target has: {@code int grow(long minimumBytes, long arenaBytesSeen)}. */
    public static MethodType growType() {
        return MethodType.methodType(int.class, long.class, long.class);
    }

    /**
     * {@code xpfo_heap_set_low_watermark}: when the uncarved arena bytes fall below {@code bytes}, malloc
     * wakes the thread in {@link #awaitRefill} (through an eventfd, no Java). 0, or -1 with {@link #errno()}
     * ({@code eventfd}: EMFILE, ENFILE, ENOMEM).
     */
    public static int setLowWatermark(long bytes) {
        try {
            return (int) SET_LOW_WATERMARK.invokeExact(CAPTURED.get(), bytes);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /**
     * {@code xpfo_heap_await_refill}: blocks until malloc asks for a refill ahead of need; 1 then, or -1
     * with {@link #errno()} (EINVAL: no watermark set).
     */
    public static int awaitRefill() {
        try {
            return (int) AWAIT_REFILL.invokeExact(CAPTURED.get());
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /** {@code xpfo_heap_unused_bytes}: arena bytes not carved into blocks yet (what the low watermark watches). */
    public static long unusedBytes() {
        return stat(UNUSED_BYTES);
    }

    /** {@code xpfo_heap_low_watermark}: the refill threshold in bytes; 0 if refill ahead is off. */
    public static long lowWatermark() {
        return stat(LOW_WATERMARK);
    }

    /** {@code xpfo_heap_arena_bytes}: bytes of the chunks handed over. */
    public static long arenaBytes() {
        return stat(ARENA_BYTES);
    }

    /** {@code xpfo_heap_set_max_bytes}: the most arena bytes {@link #addChunk} accepts (0: no maximum). */
    public static void setMaxBytes(long bytes) {
        try {
            SET_MAX_BYTES.invokeExact(bytes);
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }

    /** {@code xpfo_heap_max_bytes}: the maximum set by {@link #setMaxBytes} (0: none). */
    public static long maxBytes() {
        return stat(MAX_BYTES);
    }

    /** {@code xpfo_heap_in_use_bytes}: capacity of the live blocks. */
    public static long inUseBytes() {
        return stat(IN_USE_BYTES);
    }

    /** {@code xpfo_heap_foreign_frees}: frees and reallocs of pointers not ours (never written). */
    public static long foreignFrees() {
        return stat(FOREIGN_FREES);
    }

    /** {@code xpfo_heap_failed_mallocs}: allocations that returned NULL. */
    public static long failedMallocs() {
        return stat(FAILED_MALLOCS);
    }

    /** {@code xpfo_heap_grow_requests}: calls of the grow callback. */
    public static long growRequests() {
        return stat(GROW_REQUESTS);
    }

    private static long stat(MethodHandle getter) {
        try {
            return (long) getter.invokeExact();
        } catch (Throwable t) {
            throw LibCrypto.linkFailure(t);
        }
    }
}
