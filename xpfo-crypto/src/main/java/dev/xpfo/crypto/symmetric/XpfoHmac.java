// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.spec.AlgorithmParameterSpec;

import javax.crypto.MacSpi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code Mac} "HmacSHA256", "HmacSHA384", "HmacSHA512" through libcrypto's {@code EVP_MAC} "HMAC",
 * keyed only by {@link XpfoSecretKey}s (any other key: {@link InvalidKeyException}). The HMAC
 * implementation is fetched once per process and one {@code EVP_MAC_CTX} per instance is reused:
 * {@code reset} and {@code doFinal} re-initialise it with the key it already holds (a NULL key), so
 * the key's bytes are handed to libcrypto once per {@code init}.
 */
public final class XpfoHmac extends MacSpi {
    private static final MemorySegment HMAC = fetchHmac();

    private final String algorithm;
    private final String digest;
    private final int length;
    private static final int CHUNK_BYTES = 64 * 1024;
    private static final int MIN_WORK_BYTES = 4096;

    private final Context context;
    private boolean keyed;
    /** The message's way into libcrypto (libcrypto's heap, wiped after each update); grows as needed. */
    private CryptoBuffer work;
    /** Per-instance native scratch for the MAC and its length. */
    private final MemorySegment macOut = Arena.ofAuto().allocate(64);
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
        MemorySegment ctx = LibCrypto.evpMacCtxNew(HMAC);
        if (ctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_MAC_CTX_new", "could not create an HMAC context");
        }
        this.context = new Context(ctx.address());
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
        keyed = false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment digestParams = digestParams(arena);
            int[] result = new int[1];
            xpfoKey.use(bytes -> result[0] = LibCrypto.evpMacInit(ctx(), bytes, bytes.byteSize(), digestParams));
            if (result[0] != 1) {
                throw OpenSslErrors.failure("EVP_MAC_init", "could not key " + algorithm);
            }
        } catch (IllegalStateException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
        keyed = true;
    }

    /** {@code {"digest" = SHA256, end}}: the OSSL_PARAM array naming the digest. */
    private MemorySegment digestParams(Arena arena) {
        MemorySegment params = arena.allocate(LibCrypto.OSSL_PARAM, 2);
        MemorySegment name = arena.allocateFrom(digest);
        params.set(ADDRESS, 0, arena.allocateFrom("digest"));
        params.set(JAVA_INT, 8, LibCrypto.OSSL_PARAM_UTF8_STRING);
        params.set(ADDRESS, 16, name);
        params.set(JAVA_LONG, 24, digest.length());
        params.set(JAVA_LONG, 32, LibCrypto.OSSL_PARAM_UNMODIFIED);
        return params; // the second element stays zero: the terminator
    }

    @Override
    protected void engineUpdate(byte input) {
        engineUpdate(new byte[] {input}, 0, 1);
    }

    /** The message goes through a work buffer in libcrypto's heap, a chunk at a time, wiped after each. */
    @Override
    protected void engineUpdate(byte[] input, int offset, int len) {
        requireKey();
        for (int done = 0; done < len; done += CHUNK_BYTES) {
            int chunk = Math.min(CHUNK_BYTES, len - done);
            if (work == null || work.size() < chunk) {
                if (work != null) {
                    work.close();
                }
                work = CryptoBuffer.allocate(Math.max(chunk, MIN_WORK_BYTES));
            }
            MemorySegment in = work.segment();
            MemorySegment.copy(input, offset + done, in, JAVA_BYTE, 0, chunk);
            try {
                if (LibCrypto.evpMacUpdate(ctx(), in, chunk) != 1) {
                    throw OpenSslErrors.failure("EVP_MAC_update", algorithm);
                }
            } finally {
                in.asSlice(0, chunk).fill((byte) 0);
            }
        }
    }

    @Override
    protected void engineUpdate(ByteBuffer input) {
        byte[] chunk = new byte[input.remaining()];
        input.get(chunk);
        engineUpdate(chunk, 0, chunk.length);
    }

    @Override
    protected byte[] engineDoFinal() {
        requireKey();
        if (LibCrypto.evpMacFinal(ctx(), macOut, macLength, length) != 1) {
            throw OpenSslErrors.failure("EVP_MAC_final", algorithm);
        }
        byte[] mac = macOut.asSlice(0, macLength.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        engineReset();
        return mac;
    }

    /** Starts a new MAC with the same key: {@code EVP_MAC_init} with a NULL key keeps the one it holds. */
    @Override
    protected void engineReset() {
        if (!keyed) {
            return;
        }
        if (LibCrypto.evpMacInit(ctx(), MemorySegment.NULL, 0, MemorySegment.NULL) != 1) {
            throw OpenSslErrors.failure("EVP_MAC_init", "could not reset " + algorithm);
        }
    }

    private void requireKey() {
        if (!keyed) {
            throw new IllegalStateException(algorithm + " is not initialised with a key");
        }
    }

    private MemorySegment ctx() {
        return MemorySegment.ofAddress(context.address);
    }

    /** Frees the EVP_MAC_CTX (which wipes its copy of the key) when the Mac becomes unreachable. */
    private record Context(long address) implements Runnable {
        @Override
        public void run() {
            LibCrypto.evpMacCtxFree(MemorySegment.ofAddress(address));
        }
    }
}
