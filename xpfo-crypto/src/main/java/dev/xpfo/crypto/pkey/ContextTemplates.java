// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.pkey;

import dev.xpfo.crypto.libcrypto.LibCrypto;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Owner of one key's signing templates: {@code EVP_MD_CTX}s initialised once to sign with the key (one
 * per digest and padding), which every new signature copies ({@code EVP_MD_CTX_copy_ex}) instead of
 * initialising a context from scratch. JSSE makes a new {@code Signature} for every handshake; a fresh
 * initialisation fetches the algorithms and exports the key again (about 60 libcrypto allocations for
 * ECDSA P-256), a copy duplicates the signature's state (a handful).
 *
 * <p>A template holds a reference to the key's {@code EVP_PKEY}, so the key's material lives on in it:
 * the key {@link #close}s its templates when it is destroyed (or collected), before it drops its own
 * reference, and a closed set refuses every copy (review L4). Copies only read a template (OpenSSL's
 * {@code EVP_MD_CTX_copy_ex} takes it {@code const}), so any number of threads copy at once under the
 * read lock; creating and freeing templates take the write lock, so no copy reads a freed template.
 */
public final class ContextTemplates {
    /**
     * Templates kept per key: a digest or two (and PSS parameters) in practice. Past it, signatures
     * initialise their own context (as before templates), so arbitrary PSS salt lengths cannot make a
     * key hold an unbounded number of contexts.
     */
    static final int LIMIT = 8;

    /** Makes a template: a new {@code EVP_MD_CTX} initialised to sign, or NULL if this kind cannot be copied. */
    @FunctionalInterface
    public interface Factory<E extends Exception> {
        MemorySegment create() throws E;
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Spec → template; {@link MemorySegment#NULL} marks a spec the factory found uncopyable. */
    private final Map<Object, MemorySegment> templates = new HashMap<>();
    private boolean closed;

    /**
     * Makes {@code out} a copy of the template for {@code spec}, creating the template with
     * {@code factory} at its first use.
     *
     * @return true if {@code out} is now initialised to sign; false if there is no template for
     *         {@code spec} (the limit is reached, the factory returned NULL, or the copy failed:
     *         libcrypto's error queue says why), and the caller initialises {@code out} itself
     * @throws IllegalStateException if the key was destroyed
     */
    public <E extends Exception> boolean copyInto(Object spec, MemorySegment out, Factory<E> factory) throws E {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            requireOpen();
            MemorySegment template = templates.get(spec);
            if (template != null) {
                return !template.equals(MemorySegment.NULL) && LibCrypto.evpMdCtxCopyEx(out, template) == 1;
            }
        } finally {
            read.unlock();
        }
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            requireOpen();
            MemorySegment template = templates.get(spec);
            if (template == null) {
                if (templates.size() >= LIMIT) {
                    return false;
                }
                template = factory.create();
                if (!template.equals(MemorySegment.NULL) && LibCrypto.evpMdCtxCopyEx(out, template) != 1) {
                    LibCrypto.evpMdCtxFree(template); // a kind libcrypto cannot copy: remember, never try again
                    template = MemorySegment.NULL;
                }
                templates.put(spec, template);
                return !template.equals(MemorySegment.NULL);
            }
            return !template.equals(MemorySegment.NULL) && LibCrypto.evpMdCtxCopyEx(out, template) == 1;
        } finally {
            write.unlock();
        }
    }

    /** How many templates exist (tests: that a destroyed key holds none). */
    public int size() {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            return (int) templates.values().stream().filter(t -> !t.equals(MemorySegment.NULL)).count();
        } finally {
            read.unlock();
        }
    }

    /** Frees every template (and with it the template's reference to the key); later copies are refused. Idempotent. */
    public void close() {
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            closed = true;
            for (MemorySegment template : templates.values()) {
                if (!template.equals(MemorySegment.NULL)) {
                    LibCrypto.evpMdCtxFree(template);
                }
            }
            templates.clear();
        } finally {
            write.unlock();
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the XPFO key was destroyed");
        }
    }
}
