// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.XpfoClosedException;

import java.lang.foreign.MemorySegment;

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
    /** Per size class: free-stack depth, then the offset of the next slot in the current slab. */
    final long[] cursors = new long[Stripe.PAD + 2 * SizeClasses.COUNT + Stripe.PAD];
    /** Per size class, the current slab (a slice of a pool chunk's segment), or null. */
    final MemorySegment[] slabs = new MemorySegment[Stripe.PAD + SizeClasses.COUNT + Stripe.PAD];
    /** Per size class, a stack of freed slots. */
    final MemorySegment[][] free = new MemorySegment[SizeClasses.COUNT][];
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
 *
 * <p>Slots are slices of the pool chunk's segment, not raw addresses: if the chunk goes away while a
 * slot is in use (the pool closed under a running thread), an access fails with an exception instead
 * of touching unmapped memory.
 *
 * <p>The store may hold this stripe's lock around a {@link #take} and {@link #track}, so the two
 * happen as one step with respect to {@link #close()}.
 */
final class Stripe extends StripeState {
    /** References or longs of padding at each end of a hot array: at least 128 bytes, two cache lines. */
    static final int PAD = 16;

    // 128 bytes after the fields, as StripePaddingBefore puts 128 before them.
    @SuppressWarnings("unused")
    private long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;

    Stripe() {
        for (int i = 0; i < SizeClasses.COUNT; i++) {
            free[i] = new MemorySegment[PAD + 16 + PAD];
        }
    }

    private static int depth(int sizeClass) {
        return PAD + sizeClass;
    }

    private static int next(int sizeClass) {
        return PAD + SizeClasses.COUNT + sizeClass;
    }

    /**
     * A free slot of {@code sizeClass}, {@link SizeClasses#stride} bytes: the most recently freed one,
     * else the next one carved from the current slab, else from a new slab {@code newSlab} gives.
     *
     * @throws XpfoClosedException once the store closed
     */
    synchronized MemorySegment take(int sizeClass, SlabSource newSlab) {
        if (closed) {
            throw new XpfoClosedException("secret store");
        }
        int count = (int) cursors[depth(sizeClass)];
        if (count > 0) {
            cursors[depth(sizeClass)] = count - 1;
            MemorySegment slot = free[sizeClass][PAD + count - 1];
            free[sizeClass][PAD + count - 1] = null;
            return slot;
        }
        long stride = SizeClasses.stride(sizeClass);
        MemorySegment slab = slabs[PAD + sizeClass];
        if (slab == null || cursors[next(sizeClass)] + stride > slab.byteSize()) {
            slab = newSlab.slab();
            slabs[PAD + sizeClass] = slab;
            cursors[next(sizeClass)] = 0;
        }
        long offset = cursors[next(sizeClass)];
        cursors[next(sizeClass)] = offset + stride;
        return slab.asSlice(offset, stride);
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

    synchronized void put(int sizeClass, MemorySegment slot) {
        int count = (int) cursors[depth(sizeClass)];
        MemorySegment[] stack = free[sizeClass];
        if (PAD + count + PAD == stack.length) {
            MemorySegment[] larger = new MemorySegment[PAD + 2 * count + PAD];
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

    /** Gives a stripe a new slab: a slice of a pool chunk's segment. */
    @FunctionalInterface
    interface SlabSource {
        MemorySegment slab();
    }
}
