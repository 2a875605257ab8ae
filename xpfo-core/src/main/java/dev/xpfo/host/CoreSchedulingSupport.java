// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeErrors;

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
            // What the refusal means (not in this kernel, no SMT) is the errno map's to say.
            return new CoreSchedulingSupport(false,
                    NativeErrors.coreScheduling("prctl(PR_SCHED_CORE)", Libc.errno()).getMessage());
        }
    }
}
