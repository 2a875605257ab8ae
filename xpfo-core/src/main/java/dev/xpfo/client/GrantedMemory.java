// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import dev.xpfo.memory.Bytes;
import dev.xpfo.span.GuardedSpan;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Memory granted by the service and mapped here: one contiguous range of direct-map-free memory,
 * whole chunks, between two {@code PROT_NONE} guard pages, {@code MADV_DONTFORK}. It counts against
 * this process's {@code RLIMIT_MEMLOCK} while mapped.
 *
 * <p>{@link #close()} unmaps it (from every thread: the segment dies with it) and tells the service,
 * so it no longer counts against this user's quota. The pages return to the kernel, wiped, when the
 * last mapping goes: the service keeps no copy of a granted file.
 */
public final class GrantedMemory implements AutoCloseable {
    private final XpfoClient client;
    private final long grantId;
    private final int chunks;
    private final Arena arena;
    private final MemorySegment segment;

    GrantedMemory(XpfoClient client, long grantId, int chunks, GuardedSpan span) {
        this.client = client;
        this.grantId = grantId;
        this.chunks = chunks;
        this.arena = Arena.ofShared();
        this.segment = MemorySegment.ofAddress(span.data()).reinterpret(span.dataBytes(), arena, unmapped -> span.release());
    }

    /** The memory: at least the bytes asked for, rounded up to whole chunks. Dead after {@link #close()}. */
    public MemorySegment segment() {
        return segment;
    }

    /** The mapped length: whole chunks. */
    public long bytes() {
        return segment.byteSize();
    }

    /** How many chunk files the grant was made of. */
    public int chunks() {
        return chunks;
    }

    /** The service's number for this grant. */
    public long grantId() {
        return grantId;
    }

    /** Unmaps the memory and releases the grant at the service (if still connected). Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
            client.release(this);
        }
    }

    @Override
    public String toString() {
        return "GrantedMemory[grant " + grantId + ", " + Bytes.format(segment.byteSize()) + " in " + chunks + " chunks"
                + (arena.scope().isAlive() ? "" : ", closed") + "]";
    }
}
