// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

/**
 * Makes a binding fail as the kernel would, so tests can drive the code above the native boundary
 * down the paths this machine never takes (a kernel without secret memory, a seccomp filter).
 *
 * <p>For tests only: this package is not exported from the module, so applications cannot reach it.
 * The failure replaces the call entirely: {@link Libc} returns -1 with the injected errno and the
 * kernel is not asked.
 */
public final class FailureInjection {
    private static volatile int memfdSecretErrno;

    private FailureInjection() {
    }

    /** Every {@code memfd_secret} call from now on fails with {@code errno}, until {@link #clear()}. */
    public static void failMemfdSecret(int errno) {
        if (errno <= 0) {
            throw new IllegalArgumentException("an injected errno is positive, not " + errno);
        }
        memfdSecretErrno = errno;
    }

    /** Calls reach the kernel again. */
    public static void clear() {
        memfdSecretErrno = 0;
    }

    static int memfdSecretErrno() {
        return memfdSecretErrno;
    }
}
