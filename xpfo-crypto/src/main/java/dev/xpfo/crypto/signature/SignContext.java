// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.internal.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.security.SignatureException;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Owner of one {@code EVP_MD_CTX} reused across signatures, and of a native scratch buffer for the
 * (public) message and the signature. Every {@link #begin} resets the context first: re-initialising
 * a used context with another key without a reset produces invalid signatures (design brief §3).
 */
final class SignContext {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final long SCRATCH_BYTES = 16 * 1024;

    private final MemorySegment ctx;
    private final MemorySegment scratch;
    private final MemorySegment lengthCell;
    private final MemorySegment pkeyCtxCell;
    private final Arena arena;
    private NativeKey boundKey;
    private MemorySegment boundDigest;

    SignContext(Object user) {
        MemorySegment created = LibCrypto.evpMdCtxNew();
        if (created.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_MD_CTX_new", "creating a signing context");
        }
        ctx = created;
        arena = Arena.ofShared();
        scratch = arena.allocate(SCRATCH_BYTES);
        lengthCell = arena.allocate(JAVA_LONG);
        pkeyCtxCell = arena.allocate(ADDRESS);
        Arena owned = arena;
        CLEANER.register(user, () -> {
            LibCrypto.evpMdCtxFree(created);
            owned.close();
        });
    }

    /** A C string that lives as long as this context (digest names). */
    MemorySegment string(String value) {
        return arena.allocateFrom(value);
    }

    /**
     * Initialises the context to sign with {@code key} and digest {@code mdName} (NULL for EdDSA);
     * returns the context's {@code EVP_PKEY_CTX} (owned by the context) for padding. If the context
     * last signed with the same key and digest and {@code reusable}, it is re-initialised in place
     * ({@code EVP_DigestSignInit_ex} with no key or digest: about half the allocations of a fresh
     * initialisation); otherwise it is reset first, as another key needs.
     */
    MemorySegment begin(NativeKey key, MemorySegment mdName, boolean reusable) throws SignatureException {
        MemorySegment reference;
        try {
            reference = key.newReference(); // also the check that the key was not destroyed
        } catch (IllegalStateException e) {
            reset();
            throw new SignatureException(e.getMessage(), e);
        }
        try {
            if (reusable && key == boundKey && mdName.equals(boundDigest)
                    && LibCrypto.evpDigestSignInitEx(ctx, pkeyCtxCell, MemorySegment.NULL, MemorySegment.NULL,
                    MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL) == 1) {
                return pkeyCtxCell.get(ADDRESS, 0);
            }
            OpenSslErrors.drain(); // a refused in-place re-initialisation: start afresh
            reset();
            if (LibCrypto.evpDigestSignInitEx(ctx, pkeyCtxCell, mdName, MemorySegment.NULL, MemorySegment.NULL,
                    reference, MemorySegment.NULL) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignInit_ex", "initialising a signature"));
            }
            boundKey = key;
            boundDigest = mdName;
            return pkeyCtxCell.get(ADDRESS, 0);
        } finally {
            LibCrypto.evpPkeyFree(reference); // the context holds its own reference
        }
    }

    void update(byte[] data, int offset, int length) throws SignatureException {
        while (length > 0) {
            int chunk = (int) Math.min(length, SCRATCH_BYTES);
            MemorySegment.copy(data, offset, scratch, JAVA_BYTE, 0, chunk);
            if (LibCrypto.evpDigestSignUpdate(ctx, scratch, chunk) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignUpdate", "hashing the message"));
            }
            offset += chunk;
            length -= chunk;
        }
    }

    /** {@code EVP_DigestSignFinal}; the context keeps its key for the next {@link #begin}, unless it failed. */
    byte[] finish() throws SignatureException {
        boolean done = false;
        try {
            if (LibCrypto.evpDigestSignFinal(ctx, MemorySegment.NULL, lengthCell) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignFinal", "sizing the signature"));
            }
            MemorySegment out = output(lengthCell.get(JAVA_LONG, 0));
            if (LibCrypto.evpDigestSignFinal(ctx, out, lengthCell) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignFinal", "signing"));
            }
            done = true;
            return out.asSlice(0, lengthCell.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        } finally {
            if (!done) {
                reset();
            }
        }
    }

    /** {@code EVP_DigestSign} over the whole message (EdDSA); as {@link #finish()} for the context. */
    byte[] signOneShot(byte[] message) throws SignatureException {
        boolean done = false;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment tbs = call.allocate(Math.max(1, message.length));
            MemorySegment.copy(message, 0, tbs, JAVA_BYTE, 0, message.length);
            if (LibCrypto.evpDigestSign(ctx, MemorySegment.NULL, lengthCell, tbs, message.length) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSign", "sizing the signature"));
            }
            MemorySegment out = output(lengthCell.get(JAVA_LONG, 0));
            if (LibCrypto.evpDigestSign(ctx, out, lengthCell, tbs, message.length) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSign", "signing"));
            }
            done = true;
            return out.asSlice(0, lengthCell.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        } finally {
            if (!done) {
                reset();
            }
        }
    }

    private MemorySegment output(long maximum) throws SignatureException {
        if (maximum <= 0 || maximum > SCRATCH_BYTES) {
            throw new SignatureException("libcrypto announced a signature of " + maximum + " bytes");
        }
        return scratch.asSlice(0, maximum);
    }

    /** Releases the context's key and digest state. */
    void reset() {
        LibCrypto.evpMdCtxReset(ctx);
        boundKey = null;
        boundDigest = null;
    }
}
