// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.OpenSslException;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.crypto.libcrypto.OsslParams;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.spec.AlgorithmParameterSpec;
import java.util.function.Consumer;

import javax.crypto.MacSpi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code Mac} "HmacSHA256", "HmacSHA384", "HmacSHA512" through libcrypto's {@code EVP_MAC} "HMAC",
 * keyed only by {@link XpfoSecretKey}s (any other key: {@link InvalidKeyException}). The HMAC
 * implementation is fetched once per process and one {@code EVP_MAC_CTX} per instance is reused:
 * {@code reset} re-initialises it with the key it already holds (a NULL key), so the key's bytes are
 * handed to libcrypto once per {@code init}.
 *
 * <p>The message goes to {@code EVP_MAC_update} from where it is (a {@code byte[]}, a heap or a direct
 * {@code ByteBuffer}) by a critical downcall ({@link LibCrypto#evpMacUpdateCritical}): no copy. The
 * MAC is written into a buffer in libcrypto's heap and wiped there once copied out. {@code doFinal}
 * leaves the context finished; the {@code reset} that {@code Mac.doFinal} always makes next starts
 * the new MAC (one re-initialisation per MAC, not two).
 *
 * <p>Key destruction: {@link XpfoSecretKey#destroy()} makes the Mac free its context (libcrypto
 * cleanses its copy of the key and the HMAC pads), waiting for a call on another thread to finish
 * first; later operations throw {@link IllegalStateException} until {@code init} with a live key.
 */
public final class XpfoHmac extends MacSpi {
    private static final MemorySegment HMAC = fetchHmac();

    private final String algorithm;
    private final String digest;
    private final int length;

    /** Serialises the operations with {@link #keyDestroyed}, which another thread may call. */
    private final Object guard = new Object();
    /** Registered with each key this Mac copies (weakly held there; this field keeps it alive). */
    private final Consumer<XpfoSecretKey> onKeyDestroyed = this::keyDestroyed;
    private final Context context;
    private XpfoSecretKey key;
    private boolean keyed;
    /** EVP_MAC_final has run: the context must be re-initialised before it takes data again. */
    private boolean finished;
    /** The context is as init left it (no data, not finished): a reset has nothing to do. */
    private boolean fresh;
    /** The key destroyed under this Mac since its last init, or null. */
    private XpfoSecretKey destroyedKey;
    /** The MAC's way out of libcrypto (libcrypto's heap, wiped after each MAC) and its length. */
    private final CryptoBuffer macOut = CryptoBuffer.allocate(64);
    private final MemorySegment macLength = Arena.ofAuto().allocate(JAVA_LONG);

    XpfoHmac(String algorithm) {
        this.algorithm = algorithm;
        this.digest = switch (algorithm) {
            case "HmacSHA256" -> "SHA256";
            case "HmacSHA384" -> "SHA384";
            case "HmacSHA512" -> "SHA512";
            default -> throw new IllegalArgumentException("no XPFO MAC " + algorithm);
        };
        this.length = Integer.parseInt(digest.substring(3)) / 8;
        this.context = new Context();
        context.replace();
        CryptoBuffer.CLEANER.register(this, context);
    }

    private static MemorySegment fetchHmac() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mac = LibCrypto.evpMacFetch(MemorySegment.NULL, arena.allocateFrom("HMAC"), MemorySegment.NULL);
            if (mac.equals(MemorySegment.NULL)) {
                throw OpenSslErrors.failure("EVP_MAC_fetch", "libcrypto has no HMAC");
            }
            return mac;
        }
    }

    @Override
    protected int engineGetMacLength() {
        return length;
    }

    @Override
    protected void engineInit(Key key, AlgorithmParameterSpec params) throws InvalidKeyException, InvalidAlgorithmParameterException {
        if (params != null) {
            throw new InvalidAlgorithmParameterException(algorithm + " takes no parameters");
        }
        if (!(key instanceof XpfoSecretKey xpfoKey)) {
            throw new InvalidKeyException("XPFO's " + algorithm + " takes only XPFO secret keys (from XPFO's KeyGenerator), not "
                    + (key == null ? "null" : key.getClass().getName()));
        }
        synchronized (guard) {
            boolean keyedNow = false;
            try {
                keyed = false;
                this.key = null;
                if (context.address == 0) {
                    context.replace(); // freed when a key was destroyed
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment digestParams = digestParams(arena);
                    int[] result = new int[1];
                    xpfoKey.use(onKeyDestroyed, bytes -> result[0] = LibCrypto.evpMacInit(ctx(), bytes, bytes.byteSize(), digestParams));
                    if (result[0] != 1) {
                        throw OpenSslErrors.failure("EVP_MAC_init", "could not key " + algorithm);
                    }
                } catch (IllegalStateException e) {
                    throw new InvalidKeyException(e.getMessage(), e);
                }
                this.key = xpfoKey;
                destroyedKey = null;
                finished = false;
                fresh = true;
                keyed = true;
                keyedNow = true;
            } catch (OpenSslException e) {
                // the JCA declares init's failures checked: libcrypto refusing the key is one of them
                throw new InvalidKeyException(algorithm + " could not be keyed in libcrypto: " + e.getMessage(), e);
            } finally {
                if (!keyedNow) {
                    // Refused: the context may still hold the previous key's copy and HMAC pads, and that key is
                    // forgotten above, so its destroy() would no longer reach them: free them now.
                    context.run();
                }
                Reference.reachabilityFence(this);
            }
        }
    }

    /** {@code {"digest" = SHA256, end}}: the OSSL_PARAM array naming the digest. */
    private MemorySegment digestParams(Arena arena) {
        return OsslParams.of(arena, OsslParams.utf8("digest", digest, arena));
    }

    @Override
    protected void engineUpdate(byte input) {
        engineUpdate(new byte[] {input}, 0, 1);
    }

    @Override
    protected void engineUpdate(byte[] input, int offset, int len) {
        MemorySegment all = MemorySegment.ofArray(input);
        update(offset == 0 && len == input.length ? all : all.asSlice(offset, len));
    }

    /** A direct buffer's bytes go to libcrypto where they are, a heap buffer's from its array: no copy. */
    @Override
    protected void engineUpdate(ByteBuffer input) {
        int len = input.remaining();
        update(MemorySegment.ofBuffer(input));
        input.position(input.position() + len);
    }

    /**
     * Feeds {@code data} (heap or native) to the keyed context by critical calls of at most
     * {@link CriticalChunks#MAX_BYTES}; a context holding a finished MAC is re-initialised first, so that
     * {@code EVP_MAC_update} only ever runs on a keyed, initialised context (its one failure path, which
     * would allocate, is out of reach).
     */
    private void update(MemorySegment data) {
        synchronized (guard) {
            try {
                requireKey();
                if (finished) {
                    restart();
                }
                fresh = false;
                for (long done = 0; done < data.byteSize(); done += CriticalChunks.MAX_BYTES) {
                    int chunk = CriticalChunks.length(data.byteSize(), done);
                    if (LibCrypto.evpMacUpdateCritical(ctx(), CriticalChunks.slice(data, done, chunk), chunk) != 1) {
                        throw OpenSslErrors.failure("EVP_MAC_update", algorithm);
                    }
                }
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    @Override
    protected byte[] engineDoFinal() {
        synchronized (guard) {
            try {
                requireKey();
                if (finished) {
                    restart();
                }
                MemorySegment out = macOut.segment();
                try {
                    if (LibCrypto.evpMacFinal(ctx(), out, macLength, length) != 1) {
                        throw OpenSslErrors.failure("EVP_MAC_final", algorithm);
                    }
                    finished = true; // the next MAC needs EVP_MAC_init: Mac.doFinal's engineReset, or the next update
                    fresh = false;
                    byte[] mac = new byte[(int) macLength.get(JAVA_LONG, 0)];
                    MemorySegment.copy(out, JAVA_BYTE, 0, mac, 0, mac.length);
                    return mac;
                } finally {
                    out.fill((byte) 0);
                }
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    /** Starts a new MAC with the same key: {@code EVP_MAC_init} with a NULL key keeps the one it holds. */
    @Override
    protected void engineReset() {
        synchronized (guard) {
            try {
                if (keyed && !fresh) {
                    restart();
                }
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    /** The buffer the MAC is written to in libcrypto's heap: for tests that check it is wiped. */
    MemorySegment macBuffer() {
        return macOut.segment();
    }

    private void restart() {
        if (LibCrypto.evpMacInit(ctx(), MemorySegment.NULL, 0, MemorySegment.NULL) != 1) {
            throw OpenSslErrors.failure("EVP_MAC_init", "could not reset " + algorithm);
        }
        finished = false;
        fresh = true;
    }

    private void requireKey() {
        if (destroyedKey != null) {
            throw new IllegalStateException(algorithm + " was initialised with a key that has since been destroyed: "
                    + "its copy in libcrypto is freed; initialise the Mac with a live key");
        }
        if (!keyed) {
            throw new IllegalStateException(algorithm + " is not initialised with a key");
        }
    }

    /**
     * Told by {@code key.destroy()}: if the context holds that key, free it (EVP_MAC_CTX_free cleanses the
     * key and the HMAC pads; a new context is made at the next init) and refuse to operate until then.
     * Waits for an operation running on another thread to finish.
     */
    private void keyDestroyed(XpfoSecretKey destroyed) {
        synchronized (guard) {
            try {
                if (key != destroyed) {
                    return;
                }
                context.run();
                key = null;
                keyed = false;
                destroyedKey = destroyed;
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    private MemorySegment ctx() {
        return context.segment;
    }

    /**
     * The EVP_MAC_CTX: freed (which wipes its copy of the key) when a key is destroyed or the Mac becomes
     * unreachable, and replaced at the next init. Used under the Mac's guard, or by the cleaner once the
     * Mac is unreachable.
     */
    private static final class Context implements Runnable {
        private long address;
        /** The address as a segment, made once per context. */
        private MemorySegment segment = MemorySegment.NULL;

        synchronized void replace() {
            run();
            MemorySegment ctx = LibCrypto.evpMacCtxNew(HMAC);
            if (ctx.equals(MemorySegment.NULL)) {
                throw OpenSslErrors.failure("EVP_MAC_CTX_new", "could not create an HMAC context");
            }
            address = ctx.address();
            segment = ctx;
        }

        @Override
        public synchronized void run() {
            if (address != 0) {
                LibCrypto.evpMacCtxFree(MemorySegment.ofAddress(address));
                address = 0;
                segment = MemorySegment.NULL;
            }
        }
    }
}
