package dev.xpfo.host;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.NativeErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Core scheduling ({@code prctl(PR_SCHED_CORE)}): tasks with different cookies never run at the same
 * time on sibling hyperthreads of one core, so a VM with a cookie of its own cannot be observed
 * through a shared core by any other task. A cookie is inherited across fork and exec.
 */
public final class CoreScheduling {
    private CoreScheduling() {
    }

    /**
     * Gives this process (every thread of it) a new cookie of its own, so the processes it starts
     * afterwards inherit it.
     *
     * @throws NativeCallException EINVAL: the kernel is built without {@code CONFIG_SCHED_CORE};
     *                             ENODEV: no SMT, nothing to isolate; EPERM: not allowed
     */
    public static void createCookieForThisProcess() {
        if (Libc.prctl(Libc.PR_SCHED_CORE, Libc.PR_SCHED_CORE_CREATE, 0, Libc.PR_SCHED_CORE_SCOPE_THREAD_GROUP, 0) == 0) {
            return;
        }
        int errno = Libc.errno();
        throw NativeErrors.call("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE)", errno, switch (errno) {
            case Errno.EINVAL -> "this kernel is built without CONFIG_SCHED_CORE, so any other task may run on the "
                    + "sibling hyperthread of a core this process runs on";
            case Errno.ENODEV -> "the CPU has no SMT (or it is off): there is no sibling hyperthread to share";
            case Errno.EPERM -> "not allowed for this process";
            default -> "the kernel refused core scheduling";
        }, switch (errno) {
            case Errno.EINVAL -> "boot a kernel with CONFIG_SCHED_CORE=y; or turn SMT off (boot with nosmt, or "
                    + "echo off > /sys/devices/system/cpu/smt/control), which removes sibling hyperthreads altogether "
                    + "(core scheduling stays unavailable then)";
            case Errno.ENODEV -> "none needed: without SMT no other task can share this process's cores";
            default -> "";
        });
    }

    /** True if {@code e} says the CPU has no SMT (ENODEV): no core is shared, nothing needs isolating. */
    public static boolean noSmt(NativeCallException e) {
        return e.errno() == Errno.ENODEV;
    }

    /** True if {@code e} says the kernel is built without core scheduling (EINVAL). */
    public static boolean notInKernel(NativeCallException e) {
        return e.errno() == Errno.EINVAL;
    }

    /**
     * The cookie of process (thread) {@code pid}: 0 if it has none, so it may share a core with any
     * task without one.
     *
     * @throws NativeCallException EINVAL without {@code CONFIG_SCHED_CORE}; ESRCH if it exited; EPERM if
     *                             this process may not inspect it (needs the same user or CAP_SYS_PTRACE)
     */
    public static long cookie(long pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cookie = arena.allocate(JAVA_LONG);
            if (Libc.prctl(Libc.PR_SCHED_CORE, Libc.PR_SCHED_CORE_GET, pid, Libc.PR_SCHED_CORE_SCOPE_THREAD,
                    cookie.address()) == 0) {
                return cookie.get(JAVA_LONG, 0);
            }
            int errno = Libc.errno();
            throw NativeErrors.call("prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, " + pid + ")", errno,
                    errno == Errno.EINVAL ? "this kernel is built without CONFIG_SCHED_CORE" : "cannot read the cookie",
                    "");
        }
    }
}
