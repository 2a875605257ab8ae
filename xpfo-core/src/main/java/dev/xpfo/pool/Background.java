package dev.xpfo.pool;

import dev.xpfo.linux.Libc;

/** Background work (refill) runs at the lowest CPU priority, so requests and their callers go first. */
final class Background {
    private static final int LOWEST = 19;

    private Background() {
    }

    /**
     * Sets the calling thread's nice value to 19. Linux applies {@code setpriority} to a single thread
     * when given its thread id. Best effort: refill still works at normal priority if refused.
     */
    static void lowerPriority() {
        Libc.setpriority(Libc.PRIO_PROCESS, Libc.gettid(), LOWEST);
    }
}
