// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;

/** Background work (refill, sweeps) runs at the lowest CPU priority, so requests and their callers go first. */
public final class BackgroundPriority {
    private static final int LOWEST = 19;

    private BackgroundPriority() {
    }

    /**
     * Sets the calling thread's nice value to 19. Linux applies {@code setpriority} to a single thread
     * when given its thread id. Best effort: the work still runs at normal priority if refused.
     */
    public static void lowerCallingThread() {
        Libc.setpriority(Libc.PRIO_PROCESS, Libc.gettid(), LOWEST);
    }
}
