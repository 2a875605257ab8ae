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
     * Resets the context and initialises it to sign with {@code key} and digest {@code mdName} (NULL
     * for EdDSA); returns the context's {@code EVP_PKEY_CTX} (owned by the context) for padding.
     */
    MemorySegment begin(NativeKey key, MemorySegment mdName) throws SignatureException {
        reset();
        MemorySegment reference;
        try {
            reference = key.newReference();
        } catch (IllegalStateException e) {
            throw new SignatureException(e.getMessage(), e);
        }
        int rc;
        try {
            rc = LibCrypto.evpDigestSignInitEx(ctx, pkeyCtxCell, mdName, MemorySegment.NULL, MemorySegment.NULL,
                    reference, MemorySegment.NULL);
        } finally {
            LibCrypto.evpPkeyFree(reference); // the context holds its own reference
        }
        if (rc != 1) {
            throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignInit_ex", "initialising a signature"));
        }
        return pkeyCtxCell.get(ADDRESS, 0);
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

    /** {@code EVP_DigestSignFinal}; then resets the context (releasing its key reference). */
    byte[] finish() throws SignatureException {
        try {
            if (LibCrypto.evpDigestSignFinal(ctx, MemorySegment.NULL, lengthCell) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignFinal", "sizing the signature"));
            }
            MemorySegment out = output(lengthCell.get(JAVA_LONG, 0));
            if (LibCrypto.evpDigestSignFinal(ctx, out, lengthCell) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignFinal", "signing"));
            }
            return out.asSlice(0, lengthCell.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        } finally {
            reset();
        }
    }

    /** {@code EVP_DigestSign} over the whole message (EdDSA); then resets the context. */
    byte[] signOneShot(byte[] message) throws SignatureException {
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
            return out.asSlice(0, lengthCell.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        } finally {
            reset();
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
    }
}
