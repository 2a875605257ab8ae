// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.host.PhysicalMemory;
import dev.xpfo.host.OpenFile;
import dev.xpfo.host.SecretMemoryFiles;
import dev.xpfo.linux.Architecture;
import dev.xpfo.linux.Descriptor;
import dev.xpfo.linux.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A file of memory that the kernel removes from its direct map: xpfo's form of the proposed
 * {@code /dev/xpfo} device, on top of {@code memfd_secret(2)}.
 *
 * <pre>{@code
 * try (XpfoFile file = XpfoFile.create(64 * Bytes.MIB)) {
 *     file.populate(2, PopulateProgress.NONE);   // every page leaves the direct map now
 *     try (Mapping mapping = file.map()) {
 *         MemorySegment memory = mapping.segment();
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>What the kernel imposes, and this class enforces up front:
 * <ul>
 *   <li>A file is sized exactly once ({@link #size(long)}); sizes are rounded up to whole pages.</li>
 *   <li>Memory is allocated lazily on first touch unless {@link #populate populated}.</li>
 *   <li>Every mapping counts, whole, against the mapping process's {@code RLIMIT_MEMLOCK} unless it has
 *       {@code CAP_IPC_LOCK}; past it {@link #map()} throws {@link MemlockLimitException}.</li>
 *   <li>The file cannot be read, written, reopened through {@code /proc/self/fd} or used for DMA
 *       ({@code O_DIRECT}); it is shared only by passing the descriptor ({@link #fd()}).</li>
 * </ul>
 * Nothing here ever falls back to ordinary memory: if secret memory is unavailable,
 * {@link #open()} throws {@link SecretMemoryUnavailableException}.
 *
 * <p>Thread safety: all methods may be called from any thread. Each call on the descriptor holds it
 * (a {@link Descriptor} state word), so a {@link #close()} from another thread never frees its number
 * under a {@link #map()}, where the kernel could have given it to another file meanwhile.
 */
public final class XpfoFile implements AutoCloseable {
    private final Descriptor descriptor;
    private long size;
    private long inode;

    private XpfoFile(int fd, long size) {
        this.descriptor = new Descriptor(fd, "secret memory file");
        this.size = size;
    }

    /**
     * Opens a new, empty secret memory file, close-on-exec.
     *
     * @throws SecretMemoryUnavailableException {@code ENOSYS} (kernel without secret memory) or
     *                                          {@code EPERM} (blocked by a seccomp filter)
     * @throws NativeCallException              {@code EMFILE}/{@code ENFILE} (no descriptor left) and others
     */
    public static XpfoFile open() {
        int fd = Libc.memfdSecret(Libc.O_CLOEXEC);
        if (fd < 0) {
            throw NativeErrors.secretMemoryFile(Libc.errno());
        }
        return new XpfoFile(fd, 0);
    }

    /** Opens a file and sizes it to {@code bytes}: {@link #open()} then {@link #size(long)}. */
    public static XpfoFile create(long bytes) {
        validate(bytes);
        XpfoFile file = open();
        try {
            return file.size(bytes);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /**
     * Takes ownership of a descriptor received from another process (or inherited), after checking
     * that it really is a secret memory file: anything else is refused, never silently accepted. The
     * kernel says what the descriptor is ({@code fstatfs}: the secret memory file system), so this works
     * in a process that cannot make secret memory itself (a seccomp filter refusing {@code memfd_secret}).
     *
     * @throws XpfoException if the descriptor is not a secret memory file
     */
    public static XpfoFile adopt(int fd) {
        boolean secret;
        try {
            secret = SecretMemoryFiles.isSecretMemory(fd);
        } catch (NativeCallException e) {
            throw new XpfoException("descriptor " + fd + " is not open in this process", e);
        }
        if (!secret) {
            throw new XpfoException("descriptor " + fd + " is " + target(fd) + ", not a secret memory file: refusing it");
        }
        try (Arena arena = Arena.ofConfined()) {
            Architecture architecture = Architecture.current();
            MemorySegment stat = arena.allocate(architecture.stat());
            if (Libc.fstat(fd, stat) != 0) {
                throw NativeErrors.call("fstat", Libc.errno(), "could not size descriptor " + fd);
            }
            return new XpfoFile(fd, stat.get(JAVA_LONG, architecture.statOffset("st_size")));
        }
    }

    /** What {@code /proc} shows for this process's descriptor {@code fd}, for messages. */
    private static String target(int fd) {
        try {
            return OpenFile.of(Path.of("/proc/self/fd/" + fd)).target();
        } catch (IOException e) {
            return "descriptor " + fd;
        }
    }

    private static void validate(long bytes) {
        if (bytes <= 0) {
            throw new InvalidSizeException("a secret memory file needs a positive size, not " + bytes);
        }
        long physical = PhysicalMemory.totalBytes();
        if (bytes > physical) {
            throw new InvalidSizeException("a secret memory file of " + Bytes.format(bytes) + " (" + bytes
                    + " bytes) cannot fit: secret memory is never swapped and this machine has "
                    + Bytes.format(physical) + " of RAM");
        }
    }

    /**
     * Sizes the file, once, to {@code bytes} rounded up to a whole number of pages. No memory is
     * allocated yet; see {@link #populate}.
     *
     * @throws InvalidSizeException   zero, negative, or more than the machine's memory
     * @throws AlreadySizedException  the file already has a size (the kernel allows one {@code ftruncate})
     * @throws XpfoClosedException    after {@link #close()}
     */
    public synchronized XpfoFile size(long bytes) {
        int fd = descriptor.acquire();
        try {
            validate(bytes);
            long rounded = Bytes.roundUp(bytes, PageSize.BYTES);
            if (size != 0) {
                throw new AlreadySizedException(size, rounded);
            }
            if (Libc.ftruncate(fd, rounded) != 0) {
                throw NativeErrors.secretMemorySize(Libc.errno(), rounded);
            }
            size = rounded;
            return this;
        } finally {
            descriptor.release();
        }
    }

    /** The file's size in bytes; 0 until sized. */
    public synchronized long size() {
        return size;
    }

    /**
     * Allocates every page now, so each leaves the direct map (and the cross-CPU TLB flush is paid)
     * here rather than on first use. Uses a temporary mapping, so it needs memlock room for the file's
     * size while it runs. Safe to call on a file that already holds data: it only reads.
     *
     * @param threads  how many threads touch pages (1 = the calling thread); more help on large files
     *                 when the kernel's flush is not the bottleneck
     * @param progress told of the bytes populated so far
     * @throws MemlockLimitException if the temporary mapping exceeds {@code RLIMIT_MEMLOCK}
     */
    public void populate(int threads, PopulateProgress progress) {
        try (Mapping mapping = map()) {
            new Populator(PageSize.BYTES).populate(mapping.segment(), threads, progress);
        }
    }

    /** {@link #populate(int, PopulateProgress)} on the calling thread alone, without progress. */
    public void populate() {
        populate(1, PopulateProgress.NONE);
    }

    /**
     * Maps the whole file read-write ({@code MAP_SHARED}, {@code MADV_DONTFORK}).
     *
     * @throws MemlockLimitException past {@code RLIMIT_MEMLOCK}, with the limit, the request and remedies
     * @throws XpfoException         if the file has no size yet
     */
    public Mapping map() {
        long length;
        synchronized (this) {
            ensureOpen();
            if (size == 0) {
                throw new XpfoException("size the secret memory file before mapping it");
            }
            length = size;
        }
        int fd = descriptor.acquire();
        try {
            return Mapping.ofSecretFile(fd, length);
        } finally {
            descriptor.release();
        }
    }

    /**
     * The descriptor, to hand to another process (over a Unix socket with {@code SCM_RIGHTS}, or by
     * inheritance). It stays owned by this object: {@link #close()} closes it, so the caller must not
     * use the number once the file may be closed (another file may get it).
     *
     * @throws XpfoClosedException after {@link #close()}
     */
    public int fd() {
        int fd = descriptor.acquire();
        descriptor.release();
        return fd;
    }

    /**
     * The file's inode number on the kernel's internal secret memory mount: how {@code /proc/PID/maps}
     * and {@code stat} of {@code /proc/PID/fd/N} name it, so holders of the file can be found.
     */
    public synchronized long inode() {
        int fd = descriptor.acquire();
        if (inode != 0) {
            descriptor.release();
            return inode; // a file's inode never changes
        }
        try (Arena arena = Arena.ofConfined()) {
            Architecture architecture = Architecture.current();
            MemorySegment stat = arena.allocate(architecture.stat());
            if (Libc.fstat(fd, stat) != 0) {
                throw NativeErrors.call("fstat", Libc.errno(), "could not read the file's inode");
            }
            inode = stat.get(JAVA_LONG, architecture.statOffset("st_ino"));
            return inode;
        } finally {
            descriptor.release();
        }
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return !descriptor.isClosed();
    }

    /**
     * Closes the descriptor. Mappings already made stay valid until closed themselves; the memory
     * returns to the kernel (wiped, back in the direct map) when the last mapping and descriptor go.
     * Idempotent. A {@link #map()} in flight on another thread keeps the descriptor until it returns.
     */
    @Override
    public void close() {
        descriptor.close();
    }

    private void ensureOpen() {
        if (descriptor.isClosed()) {
            throw new XpfoClosedException("secret memory file");
        }
    }

    @Override
    public synchronized String toString() {
        return "XpfoFile[" + (descriptor.isClosed() ? "closed" : descriptor + ", " + Bytes.format(size)) + "]";
    }
}
