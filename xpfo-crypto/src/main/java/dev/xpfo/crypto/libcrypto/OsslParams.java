// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * xpfo's one way to build an {@code OSSL_PARAM} array ({@link LibCrypto#OSSL_PARAM}, core.h) for
 * libcrypto: the parameters in order, then the all-zero terminator, in an arena the caller closes once
 * libcrypto has read them (libcrypto copies what it keeps).
 */
public final class OsslParams {
    /** One parameter: its name, {@code OSSL_PARAM_*} type, data and data size. */
    public record Param(String key, int type, MemorySegment data, long size) {
    }

    private OsslParams() {
    }

    /** A UTF-8 string parameter ({@code "group" = "P-256"}); its size excludes the terminating NUL, as libcrypto wants. */
    public static Param utf8(String key, String value, Arena arena) {
        MemorySegment data = arena.allocateFrom(value);
        return new Param(key, LibCrypto.OSSL_PARAM_UTF8_STRING, data, data.byteSize() - 1);
    }

    /** An octet string parameter (an EC point): all of {@code data}. */
    public static Param octets(String key, MemorySegment data) {
        return new Param(key, LibCrypto.OSSL_PARAM_OCTET_STRING, data, data.byteSize());
    }

    /** An unsigned integer parameter (a BIGNUM's value) from its native-endian bytes: all of {@code data}. */
    public static Param unsignedInteger(String key, MemorySegment nativeEndian) {
        return new Param(key, LibCrypto.OSSL_PARAM_UNSIGNED_INTEGER, nativeEndian, nativeEndian.byteSize());
    }

    /** The array of {@code params}, terminated; {@code return_size} of each is {@code OSSL_PARAM_UNMODIFIED}. */
    public static MemorySegment of(Arena arena, Param... params) {
        MemorySegment array = arena.allocate(LibCrypto.OSSL_PARAM, params.length + 1L); // zeroed: the last one is the terminator
        for (int i = 0; i < params.length; i++) {
            long base = i * LibCrypto.OSSL_PARAM.byteSize();
            array.set(ADDRESS, base, arena.allocateFrom(params[i].key()));
            array.set(JAVA_INT, base + 8, params[i].type());
            array.set(ADDRESS, base + 16, params[i].data());
            array.set(JAVA_LONG, base + 24, params[i].size());
            array.set(JAVA_LONG, base + 32, LibCrypto.OSSL_PARAM_UNMODIFIED);
        }
        return array;
    }
}
