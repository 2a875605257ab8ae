// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Whether the kernel can keep tasks with different core-scheduling cookies off sibling hyperthreads
 * ({@code prctl(PR_SCHED_CORE)}), found by asking for this thread's cookie.
 *
 * @param available true if the prctl works and SMT exists
 * @param reason    what was found, in words, with the errno when refused
 */
public record CoreSchedulingSupport(boolean available, String reason) {

    public static CoreSchedulingSupport probe() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cookie = arena.allocate(JAVA_LONG);
            int result = Libc.prctl(Libc.PR_SCHED_CORE, Libc.PR_SCHED_CORE_GET, 0,
                    Libc.PR_SCHED_CORE_SCOPE_THREAD, cookie.address());
            if (result == 0) {
                return new CoreSchedulingSupport(true, "prctl(PR_SCHED_CORE) works; this thread's cookie is "
                        + Long.toHexString(cookie.get(JAVA_LONG, 0)));
            }
            int errno = Libc.errno();
            return new CoreSchedulingSupport(false, switch (errno) {
                case Errno.EINVAL -> "prctl(PR_SCHED_CORE) failed with " + Errno.describe(errno)
                        + ": this kernel is built without CONFIG_SCHED_CORE, so untrusted tasks may share a core's "
                        + "hyperthreads; use a kernel with CONFIG_SCHED_CORE=y, or disable SMT (nosmt)";
                case Errno.ENODEV -> "prctl(PR_SCHED_CORE) failed with " + Errno.describe(errno)
                        + ": the CPU has no SMT (or it is off), so there are no sibling hyperthreads to isolate";
                default -> "prctl(PR_SCHED_CORE) failed with " + Errno.describe(errno);
            });
        }
    }
}
