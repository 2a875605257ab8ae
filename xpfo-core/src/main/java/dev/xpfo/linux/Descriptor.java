// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import dev.xpfo.memory.XpfoClosedException;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A file descriptor and the state word that keeps it from being used after {@link #close()}, as
 * Netty's {@code FileDescriptor} does: bit 0 says closed, the rest counts the calls in flight. A call
 * {@link #acquire() takes a reference} before it uses the number and {@link #release() gives it back}
 * after; {@link #close()} marks the descriptor closed and the last reference out (or close itself, if
 * none is in flight) closes the number. So a close from another thread can never free the number
 * between a check and the call, where the kernel could hand it to a file opened meanwhile and the call
 * would land on that file.
 *
 * <p>A call in flight holds the descriptor open; an owner whose calls can block (a socket's
 * {@code recvmsg}) passes {@link #close(IntConsumer)} what wakes them ({@code shutdown(2)}).
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class Descriptor {
    private static final int CLOSED = 1;
    private static final int REFERENCE = 2;

    private final int fd;
    private final String what;
    private final AtomicInteger state = new AtomicInteger();

    /**
     * @param fd   an open descriptor, owned from now on
     * @param what what it is, for {@link XpfoClosedException} ("Unix socket")
     */
    public Descriptor(int fd, String what) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        this.fd = fd;
        this.what = what;
    }

    /**
     * Takes a reference for one call and returns the number to call with; pair with {@link #release()}
     * in a {@code finally}.
     *
     * @throws XpfoClosedException after {@link #close()}
     */
    public int acquire() {
        int number = tryAcquire();
        if (number < 0) {
            throw new XpfoClosedException(what);
        }
        return number;
    }

    /** Gives back a reference taken by {@link #acquire()}; the last one out after a close closes the number. */
    public void release() {
        int now = state.addAndGet(-REFERENCE);
        if (now == CLOSED) {
            Libc.close(fd);
        } else if (now < 0) {
            throw new IllegalStateException("released more references than were taken on " + what);
        }
    }

    /**
     * Marks the descriptor closed: no new call can take it. The number is closed now if no call is in
     * flight, else by the last one's {@link #release()}. Idempotent.
     */
    public void close() {
        close(fd -> {
        });
    }

    /**
     * {@link #close()}, and if calls are in flight, first runs {@code wakeCallsInFlight} on the number
     * (still open: this close holds a reference while it runs) so that calls blocked in the kernel
     * return and let go of the descriptor.
     */
    public void close(IntConsumer wakeCallsInFlight) {
        while (true) {
            int current = state.get();
            if ((current & CLOSED) != 0) {
                return;
            }
            // Closed, and one more reference: the number stays open while the calls in flight are woken.
            if (state.compareAndSet(current, (current | CLOSED) + REFERENCE)) {
                try {
                    if (current != 0) {
                        wakeCallsInFlight.accept(fd);
                    }
                } finally {
                    release();
                }
                return;
            }
        }
    }

    /** {@link #acquire()}, or -1 (and no reference) if the descriptor is closed. */
    public int tryAcquire() {
        while (true) {
            int current = state.get();
            if ((current & CLOSED) != 0) {
                return -1;
            }
            if (state.compareAndSet(current, current + REFERENCE)) {
                return fd;
            }
        }
    }

    /** True once {@link #close()} was called (the number may still be open for calls in flight). */
    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /** The number, for messages only: using it for a call without {@link #acquire()} reopens the race. */
    @Override
    public String toString() {
        return what + " (descriptor " + fd + (isClosed() ? ", closed" : "") + ")";
    }
}
