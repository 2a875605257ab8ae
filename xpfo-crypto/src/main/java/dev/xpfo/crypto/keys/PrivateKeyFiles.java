// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.memory.SecretFileContents;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.InvalidKeyException;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Imports an unencrypted private key file (PKCS#8 or the traditional EC/RSA forms, PEM or DER) into an
 * {@link XpfoPrivateKey}. The file is read straight into secret memory ({@link SecretFileContents}),
 * never into a {@code byte[]}; libcrypto parses it there ({@code d2i_AutoPrivateKey}, or
 * {@code PEM_read_bio_PrivateKey} over a read-only memory BIO), decoding PEM's base64 into its own heap
 * (secret memory once xpfo's allocator is installed); the file's bytes are wiped afterwards and its
 * page cache dropped. Encrypted keys are refused. The file's protection at rest is the user's.
 */
public final class PrivateKeyFiles {
    /** Key files larger than this are refused: an RSA-4096 PKCS#8 PEM is about 3.3 KiB. */
    public static final long MAXIMUM_BYTES = 64 * 1024;
    private static final byte[] PEM_BEGIN = "-----BEGIN ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PEM_ENCRYPTED = "-----BEGIN ENCRYPTED".getBytes(StandardCharsets.US_ASCII);

    private PrivateKeyFiles() {
    }

    /**
     * The private key in {@code path}.
     *
     * @throws InvalidKeyException if the file holds no private key libcrypto can parse, an encrypted
     *     one, or a key type XPFO does not support (libcrypto's own errors in the message)
     * @throws dev.xpfo.memory.NativeCallException if the file cannot be read ({@code open}, {@code read} and errno)
     * @throws IllegalStateException if libcrypto's secret-memory heap cannot be installed
     */
    public static XpfoPrivateKey read(Path path) throws InvalidKeyException {
        CryptoHeap.ensureInstalled(); // callable without the provider: libcrypto must not allocate before the hook
        try (SecretFileContents file = SecretFileContents.read(path, MAXIMUM_BYTES)) {
            MemorySegment contents = file.contents();
            long start = firstNonWhitespace(contents);
            MemorySegment pkey;
            if (startsWith(contents, start, PEM_BEGIN)) {
                if (startsWith(contents, start, PEM_ENCRYPTED)) {
                    throw new InvalidKeyException(path + " holds an encrypted private key: XPFO imports unencrypted keys only");
                }
                pkey = fromPem(contents);
            } else {
                pkey = fromDer(contents);
            }
            if (pkey.equals(MemorySegment.NULL)) {
                throw new InvalidKeyException(path + " holds no private key libcrypto can parse: "
                        + OpenSslErrors.failure("read private key", "parsing " + path).getMessage());
            }
            LibCrypto.errClearError(); // decoders tried on the way may have queued errors: never report them later
            return KeyAdoption.adopt(pkey);
        }
    }

    private static MemorySegment fromPem(MemorySegment contents) {
        MemorySegment bio = LibCrypto.bioNewMemBuf(contents, Math.toIntExact(contents.byteSize()));
        if (bio.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("BIO_new_mem_buf", "wrapping the key file");
        }
        try (Arena arena = Arena.ofConfined()) {
            // An empty passphrase as callback data: libcrypto's default callback then never prompts on the terminal.
            return LibCrypto.pemReadBioPrivateKey(bio, MemorySegment.NULL, MemorySegment.NULL, arena.allocateFrom(""));
        } finally {
            LibCrypto.bioFree(bio);
        }
    }

    private static MemorySegment fromDer(MemorySegment contents) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cursor = arena.allocate(ADDRESS);
            cursor.set(ADDRESS, 0, contents);
            return LibCrypto.d2iAutoPrivateKey(MemorySegment.NULL, cursor, contents.byteSize());
        }
    }

    private static long firstNonWhitespace(MemorySegment contents) {
        long i = 0;
        while (i < contents.byteSize() && Character.isWhitespace(contents.get(JAVA_BYTE, i))) {
            i++;
        }
        return i;
    }

    private static boolean startsWith(MemorySegment contents, long at, byte[] prefix) {
        if (contents.byteSize() - at < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (contents.get(JAVA_BYTE, at + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}
