// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings of OpenSSL 3's libcrypto ({@code libcrypto.so.3}): C-shaped, one {@code static final
 * MethodHandle} per function, raw results. libcrypto reports failures on its per-thread error queue,
 * not in errno: {@link OpenSslErrors} drains it into typed exceptions. With {@code Libc} and
 * {@link HeapLibrary}, the only class of xpfo's that touches {@link Linker}.
 *
 * <p>Loading this class maps libcrypto but runs none of its code: no allocation happens before the
 * heap's owner has installed xpfo's allocator ({@code dev.xpfo.crypto.heap.CryptoHeap}).
 */
public final class LibCrypto {
    // ---- machinery ----
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup CRYPTO = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());

    static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = CRYPTO.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libcrypto.so.3 has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** The address of libcrypto's function {@code name} (to compare hooks with its defaults). */
    public static MemorySegment address(String name) {
        return CRYPTO.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libcrypto.so.3 has no symbol " + name));
    }

    static RuntimeException linkFailure(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("calling libcrypto failed", t);
    }

    private LibCrypto() {
    }

    // ---- the error queue ----
    private static final MethodHandle ERR_GET_ERROR = function("ERR_get_error", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ERR_ERROR_STRING_N = function("ERR_error_string_n",
            FunctionDescriptor.ofVoid(JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle ERR_CLEAR_ERROR = function("ERR_clear_error", FunctionDescriptor.ofVoid());

    /** {@code ERR_get_error}: the oldest error code on this thread's queue, removed; 0 if none. */
    public static long errGetError() {
        try {
            return (long) ERR_GET_ERROR.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code ERR_error_string_n} into {@code buffer}. */
    public static void errErrorStringN(long error, MemorySegment buffer, long length) {
        try {
            ERR_ERROR_STRING_N.invokeExact(error, buffer, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code ERR_clear_error}: empties this thread's queue. */
    public static void errClearError() {
        try {
            ERR_CLEAR_ERROR.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // ---- the heap: CRYPTO_{get,set}_mem_functions, OPENSSL_init_crypto, secure heap (heap helper) ----
    /** {@code OPENSSL_INIT_NO_ATEXIT}: no {@code atexit(OPENSSL_cleanup)} (other threads may still be in libcrypto). */
    public static final long OPENSSL_INIT_NO_ATEXIT = 0x00080000L;
    /** {@code OPENSSL_INIT_NO_LOAD_CONFIG}: no openssl.cnf (it could load engines allocating outside our heap). */
    public static final long OPENSSL_INIT_NO_LOAD_CONFIG = 0x00000080L;

    private static final MethodHandle CRYPTO_GET_MEM_FUNCTIONS = function("CRYPTO_get_mem_functions",
            FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle CRYPTO_SET_MEM_FUNCTIONS = function("CRYPTO_set_mem_functions",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle OPENSSL_INIT_CRYPTO = function("OPENSSL_init_crypto",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle CRYPTO_SECURE_MALLOC_INITIALIZED = function("CRYPTO_secure_malloc_initialized",
            FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle CRYPTO_MALLOC = function("CRYPTO_malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle CRYPTO_FREE = function("CRYPTO_free", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT));

    /** {@code CRYPTO_get_mem_functions}: writes the current malloc, realloc and free pointers into the three cells. */
    public static void cryptoGetMemFunctions(MemorySegment malloc, MemorySegment realloc, MemorySegment free) {
        try {
            CRYPTO_GET_MEM_FUNCTIONS.invokeExact(malloc, realloc, free);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_set_mem_functions}: 1 if set; 0 once libcrypto has allocated on its default path. */
    public static int cryptoSetMemFunctions(MemorySegment malloc, MemorySegment realloc, MemorySegment free) {
        try {
            return (int) CRYPTO_SET_MEM_FUNCTIONS.invokeExact(malloc, realloc, free);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code OPENSSL_init_crypto(opts, settings)}: 1 on success. */
    public static int opensslInitCrypto(long options, MemorySegment settings) {
        try {
            return (int) OPENSSL_INIT_CRYPTO.invokeExact(options, settings);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_secure_malloc_initialized}: 1 if libcrypto's secure heap (outside our hook) is on. */
    public static int cryptoSecureMallocInitialized() {
        try {
            return (int) CRYPTO_SECURE_MALLOC_INITIALIZED.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_malloc(num, file, line)}, the body of {@code OPENSSL_malloc}: through the installed hook. */
    public static MemorySegment cryptoMalloc(long bytes) {
        try {
            return (MemorySegment) CRYPTO_MALLOC.invokeExact(bytes, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_free(ptr, file, line)}, the body of {@code OPENSSL_free}. */
    public static void cryptoFree(MemorySegment block) {
        try {
            CRYPTO_FREE.invokeExact(block, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // ---- keys, signatures, import (keys helper) ----

    // ---- ciphers, MACs, key agreement (ciphers helper) ----

}
