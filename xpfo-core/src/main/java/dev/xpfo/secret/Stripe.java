package dev.xpfo.secret;

import dev.xpfo.memory.XpfoClosedException;

/**
 * 128 bytes before a stripe's fields. The garbage collector may pack the stripes of a store side by
 * side; without padding, two threads allocating on their own stripes still wrote the same cache lines
 * (each stripe's lock word and list head), and two threads were slower than one.
 */
abstract class StripePaddingBefore {
    @SuppressWarnings("unused")
    private long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;
}

/** A stripe's state, between the paddings; every array is padded at both ends for the same reason. */
abstract class StripeState extends StripePaddingBefore {
    /** Per size class: free-stack depth, then the current slab's next slot, then its end. */
    final long[] cursors = Stripe.padded(3 * SizeClasses.COUNT);
    /** Per size class, a stack of freed slots. */
    final long[][] free = new long[SizeClasses.COUNT][];
    /** Secrets handed out from this stripe and not yet released, for the leak watch. */
    LeakWatch.Tracked live;
    /** Set, under this stripe's lock, when its store closes: no slot is wiped or handed out after. */
    boolean closed;
}

/**
 * One stripe of a {@link SecretStore}'s slots: per size class, a stack of free slots and the unused
 * tail of the current slab. Threads are spread over stripes so they rarely share a lock; a slot always
 * returns to the stripe it came from, so one thread freeing what another allocates does not make
 * memory drift.
 */
final class Stripe extends StripeState {
    // 128 bytes after the fields, as StripePaddingBefore puts 128 before them.
    @SuppressWarnings("unused")
    private long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;

    /** Longs of padding at each end of a hot array: 128 bytes, two cache lines on most CPUs. */
    static final int PAD = 16;

    static long[] padded(int length) {
        return new long[PAD + length + PAD];
    }

    Stripe() {
        for (int i = 0; i < SizeClasses.COUNT; i++) {
            free[i] = padded(16);
        }
    }

    private static int depth(int sizeClass) {
        return PAD + sizeClass;
    }

    private static int next(int sizeClass) {
        return PAD + SizeClasses.COUNT + sizeClass;
    }

    private static int end(int sizeClass) {
        return PAD + 2 * SizeClasses.COUNT + sizeClass;
    }

    /**
     * A free slot of {@code sizeClass}: the most recently freed one, else the next one carved from the
     * current slab, else from a new slab, whose address and length {@code newSlab} returns.
     */
    synchronized long take(int sizeClass, SlabSource newSlab) {
        if (closed) {
            throw new XpfoClosedException("secret store");
        }
        int count = (int) cursors[depth(sizeClass)];
        if (count > 0) {
            cursors[depth(sizeClass)] = count - 1;
            return free[sizeClass][PAD + count - 1];
        }
        long stride = SizeClasses.stride(sizeClass);
        if (cursors[next(sizeClass)] + stride > cursors[end(sizeClass)]) {
            long[] slab = newSlab.slab();
            cursors[next(sizeClass)] = slab[0];
            cursors[end(sizeClass)] = slab[0] + slab[1];
        }
        long slot = cursors[next(sizeClass)];
        cursors[next(sizeClass)] += stride;
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
        int count = (int) cursors[depth(sizeClass)];
        long[] stack = free[sizeClass];
        if (PAD + count + PAD == stack.length) {
            long[] larger = padded(2 * count);
            System.arraycopy(stack, PAD, larger, PAD, count);
            free[sizeClass] = stack = larger;
        }
        stack[PAD + count] = slot;
        cursors[depth(sizeClass)] = count + 1;
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
