// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
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

    // ---- keys, signatures, import (keys helper) ----

    // ---- ciphers, MACs, key agreement (ciphers helper) ----

}
