// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.pool.Isolation;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A few bytes to a few pages of sensitive data (a key, a password, a record) in memory the kernel does
 * not map ({@link #isolation()} says so), made by a {@link SecretStore}.
 *
 * <p>No copy of the contents is ever made on the Java heap by this class: data goes in and out through
 * buffers and segments the caller provides, or through a view valid only during a call
 * ({@link #readOnly}, {@link #readWrite}). {@link #toString()} never shows contents; {@link #equals}
 * compares contents in time that depends only on the size.
 *
 * <p>{@link #close()} (or {@link #destroy()}) wipes it; a secret never closed is wiped by a cleaner
 * thread once unreachable, and that leak is logged and counted. Reads and writes may come from many
 * threads. A read or write racing with the close of the store or pool fails with
 * {@link IllegalStateException} (the memory is a slice of the pool chunk's segment) and never touches
 * unmapped memory; the views of {@link #readOnly} and {@link #readWrite} have no such protection, so
 * do not close the store or pool while a view is in use. Closing the secret itself must not race with
 * its own use, as with any resource.
 */
public final class Secret implements AutoCloseable {
    /** The secret's bytes: a slice of its pool chunk, so a use after the chunk is gone fails, never crashes. */
    private final MemorySegment data;
    private final int size;
    private final Isolation isolation;
    private final SecretStore store;
    private LeakWatch.Tracked tracked;
    private volatile boolean destroyed;

    Secret(MemorySegment data, Isolation isolation, SecretStore store) {
        this.data = data;
        this.size = (int) data.byteSize();
        this.isolation = isolation;
        this.store = store;
    }

    void watchedBy(LeakWatch.Tracked watch) {
        this.tracked = watch;
    }

    /** The cleaner's reference to this secret (tests wait on it being handled). */
    LeakWatch.Tracked watch() {
        return tracked;
    }

    /** The secret's size in bytes. */
    public int size() {
        return size;
    }

    /** What the memory holding this secret protects against. */
    public Isolation isolation() {
        return isolation;
    }

    /**
     * Copies all of {@code source} into the secret at {@code offset}.
     *
     * @throws IndexOutOfBoundsException if it does not fit
     * @throws XpfoClosedException       after {@link #close()} or the store's close
     */
    public void write(long offset, MemorySegment source) {
        Objects.checkFromIndexSize(offset, source.byteSize(), size);
        try {
            MemorySegment.copy(source, 0, memory(), offset, source.byteSize());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Copies {@code length} bytes of {@code source} from {@code from} into the secret at {@code offset}. */
    public void write(long offset, byte[] source, int from, int length) {
        Objects.checkFromIndexSize(from, length, source.length);
        write(offset, MemorySegment.ofArray(source).asSlice(from, length));
    }

    /**
     * Fills all of {@code target} from the secret, starting at {@code offset}.
     *
     * @throws IndexOutOfBoundsException if the secret has fewer bytes from there
     */
    public void read(long offset, MemorySegment target) {
        Objects.checkFromIndexSize(offset, target.byteSize(), size);
        try {
            MemorySegment.copy(memory(), offset, target, 0, target.byteSize());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Copies {@code length} bytes from the secret at {@code offset} into {@code target} at {@code from}. */
    public void read(long offset, byte[] target, int from, int length) {
        Objects.checkFromIndexSize(from, length, target.length);
        read(offset, MemorySegment.ofArray(target).asSlice(from, length));
    }

    /** Fills {@code target}'s remaining bytes from the start of the secret and advances its position. */
    public void read(ByteBuffer target) {
        MemorySegment remaining = MemorySegment.ofBuffer(target);
        read(0, remaining);
        target.position(target.limit());
    }

    /** Fills {@code target} with the chars of a secret made by {@link SecretStore#copyOf(char[])}. */
    public void read(char[] target) {
        read(0, MemorySegment.ofArray(target));
    }

    /**
     * Calls {@code reader} with a read-only view of the secret that stops working when the call returns,
     * even if it was kept. The view exposes the address; give it only to code that must have it.
     */
    public <R> R readOnly(Function<MemorySegment, R> reader) {
        memory();
        try (Arena call = Arena.ofConfined()) {
            return reader.apply(MemorySegment.ofAddress(data.address()).reinterpret(size, call, null).asReadOnly());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Calls {@code writer} with a writable view of the secret that stops working when the call returns. */
    public void readWrite(Consumer<MemorySegment> writer) {
        memory();
        try (Arena call = Arena.ofConfined()) {
            writer.accept(MemorySegment.ofAddress(data.address()).reinterpret(size, call, null));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * True if {@code other} is a secret of the same size and contents. The comparison reads every byte
     * whatever it finds, so its time reveals nothing but the size.
     */
    @Override
    public boolean equals(Object other) {
        if (!(other instanceof Secret that) || that.size != size) {
            return false;
        }
        MemorySegment mine = memory();
        MemorySegment theirs = that.memory();
        int difference = 0;
        try {
            for (long i = 0; i < size; i++) {
                difference |= mine.get(ValueLayout.JAVA_BYTE, i) ^ theirs.get(ValueLayout.JAVA_BYTE, i);
            }
        } finally {
            // Neither secret may be found unreachable (and wiped by the leak watch) while it is read.
            Reference.reachabilityFence(this);
            Reference.reachabilityFence(that);
        }
        return difference == 0;
    }

    /** The size's hash: contents never influence it. */
    @Override
    public int hashCode() {
        return Integer.hashCode(size);
    }

    /** True once {@link #close()} ran or the store was closed. */
    public boolean isDestroyed() {
        return destroyed || store.isClosed();
    }

    /** Same as {@link #close()}. */
    public void destroy() {
        close();
    }

    /**
     * Wipes the secret and frees its slot. Idempotent.
     *
     * @throws CanaryCorruptedException if memory next to the secret was overwritten (it is wiped anyway)
     */
    @Override
    public void close() {
        if (!destroyed) {
            destroyed = true;
            tracked.clear();
            store.release(tracked, false);
        }
        // Keeps this secret reachable until released, so the leak watch cannot see it as leaked meanwhile.
        Reference.reachabilityFence(this);
    }

    @Override
    public String toString() {
        return "Secret[" + size + " bytes, " + isolation + (isDestroyed() ? ", destroyed" : "") + "]";
    }

    private MemorySegment memory() {
        if (destroyed) {
            throw new XpfoClosedException("secret");
        }
        store.ensureOpen();
        return data;
    }

    /** For tests of wiping and canaries: where the slot starts, including its front canary. */
    long slotAddress() {
        return tracked.slot.address();
    }

    /** For tests: where the secret's bytes start. */
    long dataAddress() {
        return data.address();
    }
}
