// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.security.SignatureException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.security.auth.Destroyable;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Owner of one {@code EVP_MD_CTX} reused across signatures and verifications, and of native buffers
 * for the (public) message and the signature. Every {@link #begin} with another key, digest or
 * purpose resets the context first: re-initialising a used context with another key without a reset
 * produces invalid signatures (design brief §3).
 *
 * <p>The context is freed by a {@link Cleaner} when this object becomes unreachable; every method
 * that hands the context or a buffer to libcrypto ends with {@link Reference#reachabilityFence}, so
 * the Cleaner cannot free them while a downcall still uses them (review M1).
 *
 * <p>The context holds its own reference to the key's {@code EVP_PKEY} ({@code EVP_PKEY_up_ref})
 * from {@link #begin} until the next reset. That makes a concurrent {@code destroy()} of the key safe
 * (libcrypto frees the {@code EVP_PKEY} at its last reference), and it means a destroyed key's
 * material lives on in a context bound to it until that context is reset. So every operation checks
 * the key first ({@link #begin}, {@link #finish}, {@link #signMessage}) and, on a destroyed key,
 * resets the context, dropping its reference (review L4).
 *
 * <p>To sign, the context is a copy of a template the key keeps ({@link #beginSigning}): JSSE makes a
 * new {@code Signature} for every handshake, and a copy costs a fraction of a fresh initialisation.
 * The buffers are in an automatic arena, not a shared one: closing a shared arena makes every thread
 * of the JVM stop for a handshake, once per {@code Signature} object.
 */
final class SignContext {
    /** One cleaner thread for the package's native objects (contexts and public keys). */
    static final Cleaner CLEANER = Cleaner.create();
    private static final long SCRATCH_BYTES = 16 * 1024;
    /** Room for any signature: an RSA key of 16,384 bits makes 2,048 bytes; ECDSA P-521 139, Ed25519 64. */
    private static final long SIGNATURE_BYTES = 2048;

    /** What the context was last initialised for. */
    enum Purpose { SIGN, VERIFY }

    private final MemorySegment ctx;
    private final MemorySegment scratch;
    private final MemorySegment signature;
    private final MemorySegment lengthCell;
    private final MemorySegment pkeyCtxCell;
    private NativeKey boundKey;
    private MemorySegment boundDigest;
    private Purpose boundPurpose;
    /** The buffered message of a one-shot algorithm: {@link #scratch}, or a larger segment once it outgrew it. */
    private MemorySegment message;
    private long messageLength;

    SignContext() {
        MemorySegment created = LibCrypto.evpMdCtxNew();
        if (created.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_MD_CTX_new", "creating a signing context");
        }
        ctx = created;
        // One block for the buffers, freed with this object without a handshake of all threads (as
        // closing a shared arena would): the cells first, 8-byte aligned.
        MemorySegment block = Arena.ofAuto().allocate(2 * Long.BYTES + SIGNATURE_BYTES + SCRATCH_BYTES, Long.BYTES);
        lengthCell = block.asSlice(0, JAVA_LONG);
        pkeyCtxCell = block.asSlice(Long.BYTES, ADDRESS);
        signature = block.asSlice(2 * Long.BYTES, SIGNATURE_BYTES);
        scratch = block.asSlice(2 * Long.BYTES + SIGNATURE_BYTES, SCRATCH_BYTES);
        message = scratch;
        CLEANER.register(this, () -> LibCrypto.evpMdCtxFree(created));
        finaliseInPlace();
    }

    /** Digest names as C strings, made once for the JVM: a handful (the names the signatures accept). */
    private static final Map<String, MemorySegment> NAMES = new ConcurrentHashMap<>();

    /** {@code value} as a C string that lives as long as the JVM (a digest name: one of a few). */
    static MemorySegment name(String value) {
        return NAMES.computeIfAbsent(value, v -> Arena.global().allocateFrom(v));
    }

    /** Sets what a signature needs in the key context after its initialisation (PSS padding). */
    @FunctionalInterface
    interface Configuration {
        void apply(MemorySegment pkeyCtx) throws SignatureException;

        Configuration NONE = pkeyCtx -> { };
    }

    /**
     * Initialises the context to sign with {@code key}, digest {@code mdName} (NULL for EdDSA) and
     * {@code configuration}, as a copy of the key's template for {@code spec} (made at the first
     * signature of that spec: {@code spec} must name everything the template was made with, digest and
     * padding). If the key keeps no template for it (too many specs, or a kind libcrypto cannot copy),
     * the context is initialised as {@link #begin} does.
     *
     * @throws SignatureException if the key was destroyed, or libcrypto refused the initialisation
     */
    void beginSigning(XpfoPrivateKey key, Object spec, MemorySegment mdName, Configuration configuration) throws SignatureException {
        boolean copied;
        try {
            copied = key.contextTemplates().copyInto(spec, ctx, () -> template(key, mdName, configuration));
        } catch (IllegalStateException e) {
            reset();
            throw new SignatureException(e.getMessage(), e);
        } finally {
            Reference.reachabilityFence(this);
        }
        if (copied) {
            finaliseInPlace();
            boundKey = key;
            boundDigest = mdName;
            boundPurpose = Purpose.SIGN;
            return;
        }
        OpenSslErrors.drain(); // a kind without template: why is no error of the next call
        configuration.apply(begin(key, mdName, false, Purpose.SIGN));
    }

    /** A new {@code EVP_MD_CTX} initialised to sign with {@code key}: a template, owned by the key. */
    private static MemorySegment template(NativeKey key, MemorySegment mdName, Configuration configuration) throws SignatureException {
        MemorySegment template = LibCrypto.evpMdCtxNew();
        if (template.equals(MemorySegment.NULL)) {
            throw new SignatureException(OpenSslErrors.failure("EVP_MD_CTX_new", "creating a signing template"));
        }
        boolean made = false;
        MemorySegment reference = key.newReference();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pkeyCtxCell = arena.allocate(ADDRESS);
            LibCrypto.evpMdCtxSetFlags(template, LibCrypto.EVP_MD_CTX_FLAG_FINALISE); // copied with the context
            if (LibCrypto.evpDigestSignInitEx(template, pkeyCtxCell, mdName, MemorySegment.NULL, MemorySegment.NULL, reference,
                    MemorySegment.NULL) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignInit_ex", "initialising a signing template"));
            }
            configuration.apply(pkeyCtxCell.get(ADDRESS, 0));
            made = true;
            return template;
        } finally {
            LibCrypto.evpPkeyFree(reference); // the template holds its own reference
            if (!made) {
                LibCrypto.evpMdCtxFree(template);
            }
        }
    }

    /**
     * Initialises the context to sign or verify with {@code key} and digest {@code mdName} (NULL for
     * EdDSA); returns the context's {@code EVP_PKEY_CTX} (owned by the context) for padding. If the
     * context was last initialised for the same purpose, key and digest and {@code reusable}, it is
     * re-initialised in place ({@code EVP_Digest{Sign,Verify}Init_ex} with no key or digest: about half
     * the allocations of a fresh initialisation); otherwise it is reset first, as another key needs.
     */
    MemorySegment begin(NativeKey key, MemorySegment mdName, boolean reusable, Purpose purpose) throws SignatureException {
        try {
            if (reusable && key == boundKey && purpose == boundPurpose && mdName.equals(boundDigest)) {
                requireLive(key); // the context holds its own reference to the key: no new one needed
                if (init(purpose, MemorySegment.NULL, MemorySegment.NULL) == 1) {
                    return pkeyCtxCell.get(ADDRESS, 0);
                }
                OpenSslErrors.drain(); // a refused in-place re-initialisation: start afresh
            }
        } finally {
            Reference.reachabilityFence(this);
        }
        MemorySegment reference;
        try {
            reference = key.newReference(); // also the check that the key was not destroyed
        } catch (IllegalStateException e) {
            reset();
            throw new SignatureException(e.getMessage(), e);
        }
        try {
            reset();
            if (init(purpose, mdName, reference) != 1) {
                throw new SignatureException(OpenSslErrors.failure(purpose == Purpose.SIGN ? "EVP_DigestSignInit_ex" : "EVP_DigestVerifyInit_ex",
                        "initialising a " + (purpose == Purpose.SIGN ? "signature" : "verification")));
            }
            boundKey = key;
            boundDigest = mdName;
            boundPurpose = purpose;
            return pkeyCtxCell.get(ADDRESS, 0);
        } finally {
            LibCrypto.evpPkeyFree(reference); // the context holds its own reference
            Reference.reachabilityFence(this);
        }
    }

    private int init(Purpose purpose, MemorySegment mdName, MemorySegment pkey) {
        return purpose == Purpose.SIGN
                ? LibCrypto.evpDigestSignInitEx(ctx, pkeyCtxCell, mdName, MemorySegment.NULL, MemorySegment.NULL, pkey, MemorySegment.NULL)
                : LibCrypto.evpDigestVerifyInitEx(ctx, pkeyCtxCell, mdName, MemorySegment.NULL, MemorySegment.NULL, pkey, MemorySegment.NULL);
    }

    /** Hashes {@code data} into the signature or verification {@link #begin} started. */
    void update(byte[] data, int offset, int length) throws SignatureException {
        try {
            while (length > 0) {
                int chunk = (int) Math.min(length, SCRATCH_BYTES);
                MemorySegment.copy(data, offset, scratch, JAVA_BYTE, 0, chunk);
                int result = boundPurpose == Purpose.SIGN
                        ? LibCrypto.evpDigestSignUpdate(ctx, scratch, chunk)
                        : LibCrypto.evpDigestVerifyUpdate(ctx, scratch, chunk);
                if (result != 1) {
                    throw new SignatureException(OpenSslErrors.failure("EVP_Digest" + (boundPurpose == Purpose.SIGN ? "Sign" : "Verify")
                            + "Update", "hashing the message"));
                }
                offset += chunk;
                length -= chunk;
            }
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code EVP_DigestSignFinal} into a buffer large enough for any signature (no sizing call). The
     * context is reset afterwards, whatever happened: the next signature copies the key's template
     * again, and a {@code Signature} object that signed holds no reference to the key, so destroying
     * the key frees its material even while such objects (one per JSSE handshake) are still reachable.
     */
    byte[] finish(NativeKey key) throws SignatureException {
        requireLive(key);
        try {
            lengthCell.set(JAVA_LONG, 0, SIGNATURE_BYTES);
            if (LibCrypto.evpDigestSignFinal(ctx, signature, lengthCell) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSignFinal", "signing"));
            }
            return signed();
        } finally {
            reset();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code EVP_DigestVerifyFinal}: true for a valid signature, false for an invalid one; a
     * signature libcrypto cannot parse (negative result, as for malformed DER) is a
     * {@link SignatureException}, as the JDK's providers make it.
     */
    boolean verifyFinish(byte[] candidate) throws SignatureException {
        try {
            MemorySegment sig = input(candidate);
            return verdict(LibCrypto.evpDigestVerifyFinal(ctx, sig, candidate.length), "EVP_DigestVerifyFinal");
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Appends to the buffered message of a one-shot algorithm (EdDSA): public data, in native memory. */
    void append(byte[] data, int offset, int length) {
        try {
            long needed = messageLength + length;
            if (needed > message.byteSize()) {
                MemorySegment larger = Arena.ofAuto().allocate(Math.max(needed, 2 * message.byteSize()));
                MemorySegment.copy(message, 0, larger, 0, messageLength);
                message = larger;
            }
            MemorySegment.copy(data, offset, message, JAVA_BYTE, messageLength, length);
            messageLength = needed;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Forgets the buffered message (and a large buffer it needed). */
    void clearMessage() {
        messageLength = 0;
        message = scratch;
    }

    /** {@code EVP_DigestSign} over the buffered message (EdDSA), then forgets it; as {@link #finish} for the context. */
    byte[] signMessage(NativeKey key) throws SignatureException {
        try {
            requireLive(key);
            lengthCell.set(JAVA_LONG, 0, SIGNATURE_BYTES);
            if (LibCrypto.evpDigestSign(ctx, signature, lengthCell, message, messageLength) != 1) {
                throw new SignatureException(OpenSslErrors.failure("EVP_DigestSign", "signing"));
            }
            return signed();
        } finally {
            clearMessage();
            reset();
            Reference.reachabilityFence(this);
        }
    }

    /** {@code EVP_DigestVerify} over the buffered message (EdDSA), then forgets it; as {@link #verifyFinish}. */
    boolean verifyMessage(byte[] candidate) throws SignatureException {
        try {
            MemorySegment sig = input(candidate);
            return verdict(LibCrypto.evpDigestVerify(ctx, sig, candidate.length, message, messageLength), "EVP_DigestVerify");
        } finally {
            clearMessage();
            Reference.reachabilityFence(this);
        }
    }

    private byte[] signed() throws SignatureException {
        long length = lengthCell.get(JAVA_LONG, 0);
        if (length <= 0 || length > SIGNATURE_BYTES) {
            throw new SignatureException("libcrypto reported a signature of " + length + " bytes");
        }
        return signature.asSlice(0, length).toArray(JAVA_BYTE);
    }

    private MemorySegment input(byte[] candidate) {
        MemorySegment sig = candidate.length <= SIGNATURE_BYTES ? signature : Arena.ofAuto().allocate(candidate.length);
        MemorySegment.copy(candidate, 0, sig, JAVA_BYTE, 0, candidate.length);
        return sig;
    }

    private boolean verdict(int result, String call) throws SignatureException {
        if (result == 1) {
            return true;
        }
        if (result == 0) {
            OpenSslErrors.drain(); // libcrypto queues why the signature is wrong: not an error of the next call
            return false;
        }
        reset();
        throw new SignatureException("the signature cannot be read: " + OpenSslErrors.failure(call, "verifying").getMessage());
    }

    private void requireLive(NativeKey key) throws SignatureException {
        if (key instanceof Destroyable destroyable && destroyable.isDestroyed()) {
            reset(); // drop the context's reference: the last one frees the key's material
            throw new SignatureException("the XPFO key was destroyed");
        }
    }

    /** Releases the context's key and digest state. */
    void reset() {
        try {
            LibCrypto.evpMdCtxReset(ctx);
            finaliseInPlace();
            boundKey = null;
            boundDigest = null;
            boundPurpose = null;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code EVP_MD_CTX_FLAG_FINALISE} (cleared by every reset): without it, OpenSSL 3.0's
     * {@code EVP_DigestSignFinal} and {@code EVP_DigestVerifyFinal} copy the whole key context
     * ({@code EVP_PKEY_CTX_dup}) to keep the original usable after the final call, a cost we never
     * need: {@link #begin} re-initialises the context before the next message anyway.
     */
    private void finaliseInPlace() {
        LibCrypto.evpMdCtxSetFlags(ctx, LibCrypto.EVP_MD_CTX_FLAG_FINALISE);
    }
}
