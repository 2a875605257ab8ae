// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Bindings to the C library, C-shaped: one {@code static final MethodHandle} per function, raw
 * results, and the {@code errno} of the calling thread's last call available from {@link #errno()}.
 *
 * <p>This is the only class that touches {@link Linker}. It interprets nothing: owners in
 * {@code dev.xpfo.memory} and friends turn results into typed exceptions. The constants and layouts here
 * are the same on x86-64 and arm64 (64-bit Linux, glibc); what differs between the two (system call
 * numbers, {@code O_DIRECT}, {@code struct stat}) is in {@link Architecture}, and the calls that need it
 * throw {@link dev.xpfo.memory.UnsupportedArchitectureException} on any other architecture.
 *
 * <p>Thread safety: each thread has its own errno capture buffer, so calls from many threads never
 * see each other's errno.
 */
public final class Libc {

    // ---- constants (Linux x86-64 and arm64, glibc; per-architecture ones are in Architecture) ----
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_TRUNC = 0x200;
    public static final int O_CLOEXEC = 0x80000;

    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final long MAP_FAILED = -1L;

    public static final int MREMAP_MAYMOVE = 1;
    public static final int MREMAP_FIXED = 2;

    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_DONTDUMP = 16;
    public static final int MADV_WIPEONFORK = 18;

    public static final int POSIX_FADV_DONTNEED = 4;
    public static final int MADV_POPULATE_WRITE = 23;

    public static final int RLIMIT_MEMLOCK = 8;
    public static final int RLIMIT_NOFILE = 7;
    public static final long RLIM_INFINITY = -1L;

    public static final int PR_SET_PTRACER = 0x59616d61;
    public static final int PR_SCHED_CORE = 62;
    public static final int PR_SCHED_CORE_GET = 0;
    public static final int PR_SCHED_CORE_CREATE = 1;
    public static final int PR_SCHED_CORE_SCOPE_THREAD = 0;
    public static final int PR_SCHED_CORE_SCOPE_THREAD_GROUP = 1;
    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;

    public static final int PTRACE_PEEKDATA = 2;
    public static final int PTRACE_DETACH = 17;
    public static final int PTRACE_SEIZE = 0x4206;
    public static final int PTRACE_INTERRUPT = 0x4207;
    public static final int WALL = 0x40000000;

    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CTRUNC = 0x8;
    public static final int SO_PEERCRED = 17;
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_SNDTIMEO = 21;
    public static final int SHUT_RDWR = 2;

    public static final int PRIO_PROCESS = 0;

    public static final int SC_PAGESIZE = 30;
    public static final int SC_NPROCESSORS_ONLN = 84;
    public static final short POLLIN = 1;

    public static final long KVM_CHECK_EXTENSION = 0xAE03;
    public static final long KVM_CREATE_VM = 0xAE01;

    // ---- structure layouts ----
    /** {@code struct rlimit { rlim_t cur, max; }}. */
    public static final StructLayout RLIMIT = MemoryLayout.structLayout(
            JAVA_LONG.withName("rlim_cur"), JAVA_LONG.withName("rlim_max"));

    /** {@code struct iovec { void *base; size_t len; }}. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));

    /** {@code struct msghdr}, 56 bytes on 64-bit Linux. */
    public static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("msg_name"),
            JAVA_INT.withName("msg_namelen"), MemoryLayout.paddingLayout(4),
            ADDRESS.withName("msg_iov"),
            JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"),
            JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"), MemoryLayout.paddingLayout(4));

    /** {@code struct cmsghdr} header: {@code size_t len; int level; int type;}, data follows at 16. */
    public static final long CMSG_HEADER = 16;

    /** {@code struct pollfd { int fd; short events; short revents; }}. */
    public static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));

    /** {@code struct sockaddr_un}: a 2-byte family, then 108 bytes of path. */
    public static final long SOCKADDR_UN_SIZE = 110;
    public static final int SUN_PATH_MAX = 108;

    // ---- machinery ----
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library has no symbol " + name));
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = CAPTURE_ERRNO;
        System.arraycopy(options, 0, all, 1, options.length);
        return LINKER.downcallHandle(symbol, descriptor, all);
    }

    private static FunctionDescriptor intOf(ValueLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    private static FunctionDescriptor longOf(ValueLayout... args) {
        return FunctionDescriptor.of(JAVA_LONG, args);
    }

    private static final MethodHandle SYSCALL1 = function("syscall", longOf(JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL2 = function("syscall", longOf(JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle POLL = function("poll", intOf(ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle OPEN = function("open", intOf(ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = function("close", intOf(JAVA_INT));
    private static final MethodHandle FTRUNCATE = function("ftruncate", intOf(JAVA_INT, JAVA_LONG));
    private static final MethodHandle FALLOCATE = function("fallocate", intOf(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FSTAT = function("fstat", intOf(JAVA_INT, ADDRESS));
    private static final MethodHandle FSTATFS = function("fstatfs", intOf(JAVA_INT, ADDRESS));
    private static final MethodHandle READ = function("read", longOf(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = function("write", longOf(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle POSIX_FADVISE = function("posix_fadvise", intOf(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PREAD = function("pread", longOf(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = function("pwrite", longOf(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MMAP = function("mmap",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = function("munmap", intOf(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MPROTECT = function("mprotect", intOf(JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MADVISE = function("madvise", intOf(JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MINCORE = function("mincore", intOf(JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final MethodHandle MLOCK = function("mlock", intOf(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MREMAP = function("mremap",
            longOf(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG), Linker.Option.firstVariadicArg(4));
    private static final MethodHandle GETRLIMIT = function("getrlimit", intOf(JAVA_INT, ADDRESS));
    private static final MethodHandle PRLIMIT = function("prlimit", intOf(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle PRCTL = function("prctl",
            intOf(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCONF = function("sysconf", longOf(JAVA_INT));
    private static final MethodHandle PROCESS_VM_READV = function("process_vm_readv",
            longOf(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PTRACE = function("ptrace",
            longOf(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle WAITPID = function("waitpid", intOf(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle VMSPLICE = function("vmsplice", longOf(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PIPE2 = function("pipe2", intOf(ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKET = function("socket", intOf(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = function("socketpair", intOf(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle BIND = function("bind", intOf(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = function("listen", intOf(JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = function("accept4", intOf(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = function("connect", intOf(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = function("sendmsg", longOf(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = function("recvmsg", longOf(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle UMASK = function("umask", intOf(JAVA_INT));
    private static final MethodHandle SETPRIORITY = function("setpriority", intOf(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle GETSOCKOPT = function("getsockopt", intOf(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SETSOCKOPT = function("setsockopt", intOf(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SHUTDOWN = function("shutdown", intOf(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL = function("ioctl", intOf(JAVA_INT, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(2));

    private Libc() {
    }

    /**
     * The errno captured right after the calling thread's last call through this class. Meaningful
     * only when that call reported failure (C leaves errno untouched on most successes).
     */
    public static int errno() {
        return (int) ERRNO.get(CAPTURED.get(), 0L);
    }

    private static MemorySegment capture() {
        return CAPTURED.get();
    }

    private static RuntimeException linkFailure(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed to run", t);
    }

    /**
     * {@code syscall(SYS_memfd_secret, flags)}: a secret memory file descriptor, or -1.
     * @throws dev.xpfo.memory.UnsupportedArchitectureException on an architecture other than x86-64 and arm64
     */
    public static int memfdSecret(int flags) {
        int injected = FailureInjection.memfdSecretErrno();
        if (injected != 0) {
            ERRNO.set(capture(), 0L, injected);
            return -1;
        }
        try {
            return (int) (long) SYSCALL1.invokeExact(capture(), Architecture.current().syscalls().memfdSecret(), (long) flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code syscall(SYS_pidfd_open, pid, flags)}: a descriptor that refers to process {@code pid} for as
     * long as it is open (never to a later process given the same number), or -1 (ESRCH: no such process;
     * EINVAL: not a thread-group leader).
     * @throws dev.xpfo.memory.UnsupportedArchitectureException on an architecture other than x86-64 and arm64
     */
    public static int pidfdOpen(long pid, int flags) {
        try {
            return (int) (long) SYSCALL2.invokeExact(capture(), Architecture.current().syscalls().pidfdOpen(), pid, (long) flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code poll(fds, nfds, timeout)}: how many of the {@link #POLLFD}s are ready, or -1. */
    public static int poll(MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(capture(), fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int open(MemorySegment path, int flags, int mode) {
        try {
            return (int) OPEN.invokeExact(capture(), path, flags, mode);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int close(int fd) {
        try {
            return (int) CLOSE.invokeExact(capture(), fd);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int ftruncate(int fd, long length) {
        try {
            return (int) FTRUNCATE.invokeExact(capture(), fd, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int fallocate(int fd, int mode, long offset, long length) {
        try {
            return (int) FALLOCATE.invokeExact(capture(), fd, mode, offset, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code fstat} into a buffer laid out as {@link Architecture#stat()}. */
    public static int fstat(int fd, MemorySegment stat) {
        try {
            return (int) FSTAT.invokeExact(capture(), fd, stat);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code struct statfs}: 120 bytes on x86-64 and arm64 alike (the generic 64-bit layout), its
     * {@code f_type} a {@code long} at offset 0.
     */
    public static final long STATFS_BYTES = 120;
    public static final long STATFS_F_TYPE = 0;
    /** {@code f_type} of the kernel's secret memory file system ({@code SECRETMEM_MAGIC}, include/uapi/linux/magic.h). */
    public static final long SECRETMEM_MAGIC = 0x5345434dL;

    /** {@code fstatfs} into a buffer of {@link #STATFS_BYTES}. */
    public static int fstatfs(int fd, MemorySegment statfs) {
        try {
            return (int) FSTATFS.invokeExact(capture(), fd, statfs);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long read(int fd, MemorySegment buffer, long count) {
        try {
            return (long) READ.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long write(int fd, MemorySegment buffer, long count) {
        try {
            return (long) WRITE.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code posix_fadvise}: returns 0 or the error number itself (it does not set errno). */
    public static int posixFadvise(int fd, long offset, long length, int advice) {
        try {
            return (int) POSIX_FADVISE.invokeExact(capture(), fd, offset, length, advice);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long pread(int fd, MemorySegment buffer, long count, long offset) {
        try {
            return (long) PREAD.invokeExact(capture(), fd, buffer, count, offset);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long pwrite(int fd, MemorySegment buffer, long count, long offset) {
        try {
            return (long) PWRITE.invokeExact(capture(), fd, buffer, count, offset);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code mmap}: the mapping's address, or {@link #MAP_FAILED}. */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        try {
            return (long) MMAP.invokeExact(capture(), address, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int munmap(long address, long length) {
        try {
            return (int) MUNMAP.invokeExact(capture(), address, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int mprotect(long address, long length, int prot) {
        try {
            return (int) MPROTECT.invokeExact(capture(), address, length, prot);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int madvise(long address, long length, int advice) {
        try {
            return (int) MADVISE.invokeExact(capture(), address, length, advice);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code mincore}: one byte per page into {@code vector}, bit 0 set where the page is resident. */
    public static int mincore(long address, long length, MemorySegment vector) {
        try {
            return (int) MINCORE.invokeExact(capture(), address, length, vector);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int mlock(long address, long length) {
        try {
            return (int) MLOCK.invokeExact(capture(), address, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code mremap(old, oldSize, newSize, flags, newAddress)}: the new address, or {@link #MAP_FAILED}.
     * {@code newAddress} is used only with {@link #MREMAP_FIXED}.
     */
    public static long mremap(long address, long oldSize, long newSize, int flags, long newAddress) {
        try {
            return (long) MREMAP.invokeExact(capture(), address, oldSize, newSize, flags, newAddress);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code getrlimit} into a {@link #RLIMIT} buffer. */
    public static int getrlimit(int resource, MemorySegment rlimit) {
        try {
            return (int) GETRLIMIT.invokeExact(capture(), resource, rlimit);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code prlimit(pid, resource, newLimit, oldLimit)}; either buffer may be {@link MemorySegment#NULL}. */
    public static int prlimit(int pid, int resource, MemorySegment newLimit, MemorySegment oldLimit) {
        try {
            return (int) PRLIMIT.invokeExact(capture(), pid, resource, newLimit, oldLimit);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int prctl(int option, long arg2, long arg3, long arg4, long arg5) {
        try {
            return (int) PRCTL.invokeExact(capture(), option, arg2, arg3, arg4, arg5);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long sysconf(int name) {
        try {
            return (long) SYSCONF.invokeExact(capture(), name);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long processVmReadv(int pid, MemorySegment localIov, long localCount,
                                      MemorySegment remoteIov, long remoteCount, long flags) {
        try {
            return (long) PROCESS_VM_READV.invokeExact(capture(), pid, localIov, localCount, remoteIov, remoteCount, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code ptrace(request, pid, addr, data)}. For {@link #PTRACE_PEEKDATA} glibc returns the word read
     * and leaves errno 0 on success, so check {@link #errno()} rather than the result.
     */
    public static long ptrace(int request, int pid, long address, long data) {
        try {
            return (long) PTRACE.invokeExact(capture(), request, pid, address, data);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int waitpid(int pid, MemorySegment status, int options) {
        try {
            return (int) WAITPID.invokeExact(capture(), pid, status, options);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long vmsplice(int fd, MemorySegment iov, long count, int flags) {
        try {
            return (long) VMSPLICE.invokeExact(capture(), fd, iov, count, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code pipe2} into two ints: read end, then write end. */
    public static int pipe2(MemorySegment fds, int flags) {
        try {
            return (int) PIPE2.invokeExact(capture(), fds, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int socket(int domain, int type, int protocol) {
        try {
            return (int) SOCKET.invokeExact(capture(), domain, type, protocol);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code socketpair} into two ints: two connected sockets. */
    public static int socketpair(int domain, int type, int protocol, MemorySegment fds) {
        try {
            return (int) SOCKETPAIR.invokeExact(capture(), domain, type, protocol, fds);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int bind(int fd, MemorySegment address, int length) {
        try {
            return (int) BIND.invokeExact(capture(), fd, address, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int listen(int fd, int backlog) {
        try {
            return (int) LISTEN.invokeExact(capture(), fd, backlog);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int accept4(int fd, MemorySegment address, MemorySegment length, int flags) {
        try {
            return (int) ACCEPT4.invokeExact(capture(), fd, address, length, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int connect(int fd, MemorySegment address, int length) {
        try {
            return (int) CONNECT.invokeExact(capture(), fd, address, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long sendmsg(int fd, MemorySegment message, int flags) {
        try {
            return (long) SENDMSG.invokeExact(capture(), fd, message, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static long recvmsg(int fd, MemorySegment message, int flags) {
        try {
            return (long) RECVMSG.invokeExact(capture(), fd, message, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code umask(mask)}: sets the process's file-creation mask, returns the previous one. */
    public static int umask(int mask) {
        try {
            return (int) UMASK.invokeExact(capture(), mask);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code syscall(SYS_gettid)}: the calling thread's kernel id.
     * @throws dev.xpfo.memory.UnsupportedArchitectureException on an architecture other than x86-64 and arm64
     */
    public static int gettid() {
        try {
            return (int) (long) SYSCALL1.invokeExact(capture(), Architecture.current().syscalls().gettid(), 0L);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /**
     * {@code syscall(SYS_geteuid)}: the calling process's effective user id (the call never fails).
     * @throws dev.xpfo.memory.UnsupportedArchitectureException on an architecture other than x86-64 and arm64
     */
    public static int geteuid() {
        try {
            return (int) (long) SYSCALL1.invokeExact(capture(), Architecture.current().syscalls().geteuid(), 0L);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code setpriority(which, who, prio)}; with {@code PRIO_PROCESS} and a thread id, Linux sets that thread's nice value. */
    public static int setpriority(int which, int who, int prio) {
        try {
            return (int) SETPRIORITY.invokeExact(capture(), which, who, prio);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int getsockopt(int fd, int level, int name, MemorySegment value, MemorySegment length) {
        try {
            return (int) GETSOCKOPT.invokeExact(capture(), fd, level, name, value, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int setsockopt(int fd, int level, int name, MemorySegment value, int length) {
        try {
            return (int) SETSOCKOPT.invokeExact(capture(), fd, level, name, value, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    public static int shutdown(int fd, int how) {
        try {
            return (int) SHUTDOWN.invokeExact(capture(), fd, how);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument. */
    public static int ioctl(int fd, long request, long arg) {
        try {
            return (int) IOCTL.invokeExact(capture(), fd, request, arg);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }
}
