// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import java.lang.foreign.MemorySegment;
import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.concurrent.CountDownLatch;

/**
 * The safety net for secrets never closed: a phantom reference per secret, as {@link java.lang.ref.Cleaner}
 * keeps, and one daemon thread that wipes a secret's slot once the secret is unreachable.
 *
 * <p>Why not {@code Cleaner} itself: every {@code Cleaner.register} and {@code clean} takes one lock
 * shared by every thread of the process, which made two threads allocating secrets slower together than
 * one alone. Here each reference is linked into the list of the stripe it came from, under the lock
 * the stripe's allocation already takes, so threads meet only on the garbage collector's queue.
 */
final class LeakWatch {
    private static final ReferenceQueue<Secret> QUEUE = new ReferenceQueue<>();

    static {
        Thread.ofPlatform().daemon().name("xpfo-secret-cleaner").start(LeakWatch::cleanForever);
    }

    private LeakWatch() {
    }

    /** A watched secret: what to release, and its links in its stripe's list (guarded by the stripe). */
    static final class Tracked extends PhantomReference<Secret> {
        final SecretStore store;
        /** The slot: front canary, the secret, back canary, slack; a slice of the pool chunk. */
        final MemorySegment slot;
        final int size;
        final int sizeClass;
        final Stripe stripe;
        /** Counted down once the cleaner thread has dealt with this secret: tests wait on it instead of sleeping. */
        final CountDownLatch handled = new CountDownLatch(1);
        Tracked previous;
        Tracked next;
        boolean linked;

        Tracked(Secret secret, SecretStore store, MemorySegment slot, int size, int sizeClass, Stripe stripe) {
            super(secret, QUEUE);
            this.store = store;
            this.slot = slot;
            this.size = size;
            this.sizeClass = sizeClass;
            this.stripe = stripe;
        }
    }

    private static void cleanForever() {
        while (true) {
            Tracked leaked;
            try {
                leaked = (Tracked) QUEUE.remove();
            } catch (InterruptedException e) {
                continue; // A daemon that must keep running: ignore and wait again.
            }
            try {
                leaked.store.release(leaked, true);
            } catch (RuntimeException e) {
                // A closed store or a canary failure was already logged by the store; keep cleaning.
            } finally {
                leaked.handled.countDown();
            }
        }
    }
}
