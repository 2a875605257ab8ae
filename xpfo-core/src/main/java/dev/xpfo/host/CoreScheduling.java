// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

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
     * @throws dev.xpfo.memory.CoreSchedulingUnavailableException the kernel is built without
     *                             {@code CONFIG_SCHED_CORE}, or there is no SMT and nothing to isolate
     * @throws NativeCallException EPERM: not allowed
     */
    public static void createCookieForThisProcess() {
        if (Libc.prctl(Libc.PR_SCHED_CORE, Libc.PR_SCHED_CORE_CREATE, 0, Libc.PR_SCHED_CORE_SCOPE_THREAD_GROUP, 0) == 0) {
            return;
        }
        throw NativeErrors.coreScheduling("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE)", Libc.errno());
    }

    /**
     * The cookie of process (thread) {@code pid}: 0 if it has none, so it may share a core with any
     * task without one.
     *
     * @throws dev.xpfo.memory.CoreSchedulingUnavailableException without {@code CONFIG_SCHED_CORE}
     * @throws NativeCallException ESRCH if it exited; EPERM if
     *                             this process may not inspect it (needs the same user or CAP_SYS_PTRACE)
     */
    public static long cookie(long pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cookie = arena.allocate(JAVA_LONG);
            if (Libc.prctl(Libc.PR_SCHED_CORE, Libc.PR_SCHED_CORE_GET, pid, Libc.PR_SCHED_CORE_SCOPE_THREAD,
                    cookie.address()) == 0) {
                return cookie.get(JAVA_LONG, 0);
            }
            throw NativeErrors.coreScheduling("prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, " + pid + ")", Libc.errno());
        }
    }
}
