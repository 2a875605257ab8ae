// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.host.ProcFiles;
import dev.xpfo.linux.Errno;

import java.nio.file.Path;

/**
 * The one place where a failed call's errno becomes an exception, as Netty's {@code Errors} is for its
 * native transports. An owner picks the entry point for what the call works on (a socket, a mapping,
 * locked memory, a secret memory file, anything else), names the call and says what it was doing; this
 * decides the type and, where the errno alone says what helps, the remedy:
 *
 * <table>
 *   <caption>Which failures get a type of their own</caption>
 *   <tr><th>call</th><th>errno</th><th>type</th></tr>
 *   <tr><td>socket calls</td><td>{@code EPIPE}, {@code ECONNRESET}, {@code ENOTCONN}</td>
 *       <td>{@link PeerGoneException}</td></tr>
 *   <tr><td>socket calls</td><td>{@code EAGAIN} (a socket timeout passed)</td><td>{@link CallTimedOutException}</td></tr>
 *   <tr><td>{@code connect}</td><td>{@code ENOENT}, {@code ECONNREFUSED}</td><td>{@link NotListeningException}</td></tr>
 *   <tr><td>{@code mmap}, {@code mremap}</td><td>{@code EAGAIN}</td><td>{@link MemlockLimitException}</td></tr>
 *   <tr><td>{@code mlock}</td><td>{@code EAGAIN}, {@code ENOMEM}, {@code EPERM}</td><td>{@link MemlockLimitException}</td></tr>
 *   <tr><td>{@code memfd_secret}</td><td>{@code ENOSYS}, {@code EPERM}</td><td>{@link SecretMemoryUnavailableException}</td></tr>
 *   <tr><td>{@code ftruncate} of a secret memory file</td><td>{@code EINVAL}</td><td>{@link AlreadySizedException}</td></tr>
 *   <tr><td>{@code prctl(PR_SCHED_CORE)}</td><td>{@code EINVAL}, {@code ENODEV}</td><td>{@link CoreSchedulingUnavailableException}</td></tr>
 *   <tr><td>anything</td><td>anything else</td><td>{@link NativeCallException}</td></tr>
 * </table>
 *
 * <p>Every message names the call, the errno ({@link Errno}) and the remedy. Callers tell failures apart
 * by catching these types, never by comparing call names or errno values.
 */
public final class NativeErrors {
    static final String DESCRIPTORS = "raise the descriptor limit (ulimit -n) or close descriptors";
    static final String SYSTEM_DESCRIPTORS = "the whole system is out of open files: raise fs.file-max, or close files";
    static final String ADDRESS_SPACE = "raise vm.max_map_count or the process's address-space limit (ulimit -v)";
    static final String PEER_GONE = "none on this side: the other process closed its end of the connection (it "
            + "exited, or hung up); connect again if the exchange should go on";
    static final String TIMED_OUT = "the other end did not answer or read within the socket's timeout";
    static final String NOT_LISTENING = "start the process that should listen there, or use the path it listens on";

    private NativeErrors() {
    }

    /**
     * Any call, with the owner's remedy; if that is empty, the errno's own where it has one
     * ({@code EMFILE}, {@code ENFILE}).
     */
    public static NativeCallException call(String call, int errno, String explanation, String remedy) {
        return new NativeCallException(call, errno, explanation, remedy.isEmpty() ? remedyOf(errno) : remedy);
    }

    /** Any call, with the errno's own remedy where it has one. */
    public static NativeCallException call(String call, int errno, String explanation) {
        return call(call, errno, explanation, "");
    }

    /**
     * A call on a Unix socket ({@code socket}, {@code bind}, {@code listen}, {@code connect},
     * {@code accept4}, {@code sendmsg}, {@code recvmsg}, {@code getsockopt}, {@code setsockopt}).
     *
     * @return {@link PeerGoneException} for {@code EPIPE}, {@code ECONNRESET}, {@code ENOTCONN};
     * {@link CallTimedOutException} for {@code EAGAIN}; {@link NotListeningException} for
     * {@code ENOENT} and {@code ECONNREFUSED} from {@code connect}; {@link NativeCallException} otherwise
     */
    public static NativeCallException socket(String call, int errno, String explanation) {
        return socket(call, errno, explanation, "");
    }

    /** As {@link #socket(String, int, String)}, with the owner's remedy where it knows better than the errno. */
    public static NativeCallException socket(String call, int errno, String explanation, String remedy) {
        return switch (errno) {
            case Errno.EPIPE, Errno.ECONNRESET, Errno.ENOTCONN ->
                    new PeerGoneException(call, errno, explanation, or(remedy, PEER_GONE));
            case Errno.EAGAIN -> new CallTimedOutException(call, errno, explanation, or(remedy, TIMED_OUT));
            case Errno.ENOENT, Errno.ECONNREFUSED -> call.equals("connect")
                    ? new NotListeningException(call, errno, explanation, or(remedy, NOT_LISTENING))
                    : call(call, errno, explanation, remedy);
            default -> call(call, errno, explanation, remedy);
        };
    }

    /**
     * {@code connect} to the xpfo service at {@code socket} failed: as {@link #socket}, with the remedies
     * of a client of {@code xpfo serve}.
     */
    public static NativeCallException serviceUnreachable(Path socket, int errno) {
        return socket("connect", errno, "could not reach the xpfo service at " + socket, switch (errno) {
            case Errno.ENOENT, Errno.ECONNREFUSED -> "start it with `xpfo serve`, or pass the socket it prints";
            case Errno.EACCES -> "the socket's mode or group shuts this user out: ask for the service's group "
                    + "(xpfo serve --socket-group/--socket-mode)";
            default -> "";
        });
    }

    /**
     * {@code mmap} or {@code mremap} of {@code bytes} failed.
     *
     * @return {@link MemlockLimitException} for {@code EAGAIN} (the mapping is charged to
     * {@code RLIMIT_MEMLOCK}, as secret memory always is); {@link NativeCallException} otherwise, with
     * the remedy for {@code ENOMEM} (out of address space or mapping slots)
     */
    public static NativeCallException mapping(String call, int errno, long bytes, String explanation) {
        if (errno == Errno.EAGAIN) {
            return MemlockLimitException.refused(call, errno, bytes);
        }
        return call(call, errno, explanation, errno == Errno.ENOMEM ? ADDRESS_SPACE : "");
    }

    /**
     * {@code mlock} of {@code bytes} failed.
     *
     * @return {@link MemlockLimitException} for {@code EAGAIN}, {@code ENOMEM} (over a nonzero limit) and
     * {@code EPERM} (a zero limit without {@code CAP_IPC_LOCK}); {@link NativeCallException} otherwise
     */
    public static NativeCallException locking(int errno, long bytes, String explanation) {
        return switch (errno) {
            case Errno.EAGAIN, Errno.ENOMEM, Errno.EPERM -> MemlockLimitException.refused("mlock", errno, bytes);
            default -> call("mlock", errno, explanation);
        };
    }

    /**
     * {@code memfd_secret} failed.
     *
     * @return {@link SecretMemoryUnavailableException} for {@code ENOSYS} (the kernel lacks it) and
     * {@code EPERM} (a seccomp filter blocks it); {@link NativeCallException} otherwise
     */
    public static NativeCallException secretMemoryFile(int errno) {
        return switch (errno) {
            case Errno.ENOSYS -> new SecretMemoryUnavailableException("memfd_secret", errno,
                    "this kernel (" + ProcFiles.read(Path.of("/proc/sys/kernel/osrelease")).trim()
                            + ") does not provide secret memory",
                    "use Linux 5.14 or newer built with CONFIG_SECRETMEM=y; before 6.5 it must also be enabled "
                            + "with the boot parameter secretmem.enable=1, and no kernel may boot with secretmem.enable=0; "
                            + "on x86-64 and arm64 (the architectures xpfo runs on) the kernel supports it");
            case Errno.EPERM -> new SecretMemoryUnavailableException("memfd_secret", errno,
                    "the call was refused before reaching the kernel's secret memory code, most likely by a "
                            + "seccomp filter",
                    "allow syscall 447 (memfd_secret) in the container's seccomp profile "
                            + "(Docker/Podman: --security-opt seccomp=<profile>; systemd: SystemCallFilter=)");
            default -> call("memfd_secret", errno, "could not open a secret memory file");
        };
    }

    /**
     * {@code ftruncate} of a secret memory file to {@code bytes} failed.
     *
     * @return {@link AlreadySizedException} for {@code EINVAL} (the kernel sizes such a file once);
     * {@link NativeCallException} otherwise
     */
    public static XpfoException secretMemorySize(int errno, long bytes) {
        if (errno == Errno.EINVAL) {
            return new AlreadySizedException(-1, bytes);
        }
        return call("ftruncate", errno, "could not size the secret memory file to " + bytes + " bytes");
    }

    /**
     * A core scheduling call ({@code prctl(PR_SCHED_CORE, ...)}).
     *
     * @return {@link CoreSchedulingUnavailableException} for {@code EINVAL} (not in this kernel) and
     * {@code ENODEV} (no SMT), with what that means for the host; {@link NativeCallException} otherwise
     */
    public static NativeCallException coreScheduling(String call, int errno) {
        return switch (errno) {
            case Errno.EINVAL -> new CoreSchedulingUnavailableException(call, errno,
                    CoreSchedulingUnavailableException.Reason.NOT_IN_KERNEL,
                    "this kernel is built without CONFIG_SCHED_CORE, so any other task may run on the sibling hyperthread "
                            + "of a core this process runs on",
                    "boot a kernel with CONFIG_SCHED_CORE=y; or turn SMT off (boot with nosmt, or "
                            + "echo off > /sys/devices/system/cpu/smt/control), which removes sibling hyperthreads altogether "
                            + "(core scheduling stays unavailable then)");
            case Errno.ENODEV -> new CoreSchedulingUnavailableException(call, errno,
                    CoreSchedulingUnavailableException.Reason.NO_SMT,
                    "the CPU has no SMT (or it is off): there is no sibling hyperthread to share",
                    "none needed: without SMT no other task can share this process's cores");
            case Errno.EPERM -> call(call, errno, "not allowed for this process", "");
            default -> call(call, errno, "the kernel refused core scheduling", "");
        };
    }

    private static String remedyOf(int errno) {
        return switch (errno) {
            case Errno.EMFILE -> DESCRIPTORS;
            case Errno.ENFILE -> SYSTEM_DESCRIPTORS;
            default -> "";
        };
    }

    private static String or(String remedy, String otherwise) {
        return remedy.isEmpty() ? otherwise : remedy;
    }
}
