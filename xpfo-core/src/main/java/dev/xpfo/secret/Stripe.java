package dev.xpfo.secret;

import dev.xpfo.memory.XpfoClosedException;

/**
 * One stripe of a {@link SecretStore}'s slots: per size class, a stack of free slots and the unused
 * tail of the current slab. Threads are spread over stripes so they rarely share a lock; a slot always
 * returns to the stripe it came from, so one thread freeing what another allocates does not make
 * memory drift.
 */
final class Stripe {
    private final long[][] free = new long[SizeClasses.COUNT][];
    private final int[] freeCount = new int[SizeClasses.COUNT];
    private final long[] bump = new long[SizeClasses.COUNT];
    private final long[] end = new long[SizeClasses.COUNT];
    /** Secrets handed out from this stripe and not yet released, for the leak watch. */
    private LeakWatch.Tracked live;
    /** Set, under this stripe's lock, when its store closes: no slot is wiped or handed out after. */
    private boolean closed;

    Stripe() {
        for (int i = 0; i < SizeClasses.COUNT; i++) {
            free[i] = new long[16];
        }
    }

    /**
     * A free slot of {@code sizeClass}: the most recently freed one, else the next one carved from the
     * current slab, else from a new slab, whose address and end {@code newSlab} returns in turn.
     */
    synchronized long take(int sizeClass, SlabSource newSlab) {
        if (closed) {
            throw new XpfoClosedException("secret store");
        }
        int count = freeCount[sizeClass];
        if (count > 0) {
            freeCount[sizeClass] = count - 1;
            return free[sizeClass][count - 1];
        }
        long stride = SizeClasses.stride(sizeClass);
        if (bump[sizeClass] + stride > end[sizeClass]) {
            long[] slab = newSlab.slab();
            bump[sizeClass] = slab[0];
            end[sizeClass] = slab[0] + slab[1];
        }
        long slot = bump[sizeClass];
        bump[sizeClass] += stride;
        return slot;
    }

    /** Starts watching a secret just handed out from this stripe. */
    synchronized void track(LeakWatch.Tracked tracked) {
        tracked.next = live;
        if (live != null) {
            live.previous = tracked;
        }
        live = tracked;
        tracked.linked = true;
    }

    /**
     * Stops watching {@code tracked}; true the first time, false if it was already released (so a secret
     * closed explicitly and found by the leak watch is released only once).
     */
    synchronized boolean untrack(LeakWatch.Tracked tracked) {
        if (!tracked.linked) {
            return false;
        }
        tracked.linked = false;
        if (tracked.previous != null) {
            tracked.previous.next = tracked.next;
        } else {
            live = tracked.next;
        }
        if (tracked.next != null) {
            tracked.next.previous = tracked.previous;
        }
        tracked.previous = null;
        tracked.next = null;
        return true;
    }

    synchronized void put(int sizeClass, long slot) {
        int count = freeCount[sizeClass];
        if (count == free[sizeClass].length) {
            free[sizeClass] = java.util.Arrays.copyOf(free[sizeClass], count * 2);
        }
        free[sizeClass][count] = slot;
        freeCount[sizeClass] = count + 1;
    }

    synchronized void close() {
        closed = true;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /** Gives a stripe a new slab: {@code {address, bytes}}. */
    @FunctionalInterface
    interface SlabSource {
        long[] slab();
    }
}
