// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * The kernel refused core scheduling ({@code prctl(PR_SCHED_CORE)}) for a reason that says what the
 * host can do: built without it ({@code EINVAL}), or no sibling hyperthreads to isolate from
 * ({@code ENODEV}).
 */
public final class CoreSchedulingUnavailableException extends NativeCallException {
    /** Why core scheduling is not there. */
    public enum Reason {
        /** {@code EINVAL}: the kernel is built without {@code CONFIG_SCHED_CORE}; other tasks may share this task's cores. */
        NOT_IN_KERNEL,
        /** {@code ENODEV}: the CPU has no SMT (or it is off): no core is shared, nothing needs isolating. */
        NO_SMT
    }

    private final Reason reason;

    CoreSchedulingUnavailableException(String call, int errno, Reason reason, String explanation, String remedy) {
        super(call, errno, explanation, remedy);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
