// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to libsodium's guarded allocator, the peer the small-secret benchmark compares against:
 * C-shaped, one {@code static final MethodHandle} per function, raw results. Loaded from Debian's
 * {@code libsodium23} ({@code libsodium.so.23}); {@link #available()} says whether it was found.
 */
final class LibSodium {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Optional<SymbolLookup> LIBRARY = load();
    private static final MethodHandle SODIUM_INIT = function("sodium_init", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SODIUM_MALLOC = function("sodium_malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
    private static final MethodHandle SODIUM_FREE = function("sodium_free", FunctionDescriptor.ofVoid(ADDRESS));

    private LibSodium() {
    }

    private static Optional<SymbolLookup> load() {
        for (String name : new String[] {"libsodium.so.23", "libsodium.so.26", "libsodium.so"}) {
            try {
                return Optional.of(SymbolLookup.libraryLookup(name, Arena.global()));
            } catch (IllegalArgumentException notThere) {
                // try the next soname
            }
        }
        return Optional.empty();
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor) {
        return LIBRARY.flatMap(library -> library.find(name)).map(symbol -> LINKER.downcallHandle(symbol, descriptor))
                .orElse(null);
    }

    /** True if libsodium was found and initialised. */
    static boolean available() {
        return SODIUM_INIT != null && init() >= 0;
    }

    /** {@code sodium_init()}: 0 on first success, 1 if already done, -1 on failure. */
    static int init() {
        try {
            return (int) SODIUM_INIT.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code sodium_malloc(size)}: guarded, locked memory, or NULL. */
    static MemorySegment malloc(long size) {
        try {
            return (MemorySegment) SODIUM_MALLOC.invokeExact(size);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code sodium_free(pointer)}: wipes and unmaps. */
    static void free(MemorySegment pointer) {
        try {
            SODIUM_FREE.invokeExact(pointer);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
