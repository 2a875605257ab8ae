// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.span.GuardedSpan;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.XpfoClosedException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Contiguous memory taken from a {@link PagePool}: populated, zeroed when taken, guarded by
 * {@code PROT_NONE} pages at both ends. Closing it wipes it and gives it back to the pool for reuse;
 * its segment becomes unusable, from every thread, at that moment.
 */
public final class Region implements AutoCloseable {
    private final PagePool pool;
    private final GuardedSpan span;
    private final long bytes;
    private final Isolation isolation;
    private final Arena arena;
    private final MemorySegment segment;
    private volatile boolean closed;

    Region(PagePool pool, GuardedSpan span, long bytes, Isolation isolation) {
        this.pool = pool;
        this.span = span;
        this.bytes = bytes;
        this.isolation = isolation;
        this.arena = Arena.ofShared();
        this.segment = MemorySegment.ofAddress(span.data()).reinterpret(bytes, arena, null);
    }

    /**
     * The memory: exactly the size asked for, bounds-checked, unusable after {@link #close()}.
     *
     * @throws XpfoClosedException after {@link #close()}
     */
    public MemorySegment segment() {
        if (closed) {
            throw new XpfoClosedException("region");
        }
        return segment;
    }

    /** The size asked for, in bytes. */
    public long byteSize() {
        return bytes;
    }

    /** What this memory protects against. */
    public Isolation isolation() {
        return isolation;
    }

    public boolean isOpen() {
        return !closed;
    }

    /**
     * Wipes the memory and returns it to the pool. Idempotent.
     *
     * @throws IllegalStateException if the segment is in use by a native call on another thread; the
     *                               region stays open, so closing it again later does the work
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            arena.close();
            closed = true;
            pool.giveBack(this, span, bytes);
        }
    }

    @Override
    public String toString() {
        return "Region[" + Bytes.format(bytes) + ", " + isolation + (isOpen() ? "" : ", closed") + "]";
    }
}
