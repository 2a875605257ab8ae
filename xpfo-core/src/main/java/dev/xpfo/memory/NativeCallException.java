// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Errno;

/**
 * A system call failed. The message names the call, the errno and what to do about it; the parts are
 * also available on their own for programs that react to them.
 *
 * <p>Made only by {@link NativeErrors}, the one place that decides which type a failure is
 * ({@link MemlockLimitException}, {@link PeerGoneException}, {@link NotListeningException},
 * {@link CallTimedOutException}, {@link SecretMemoryUnavailableException}, or this for the rest): catch
 * the type, never compare {@link #call()} or {@link #errno()} to tell failures apart.
 */
public class NativeCallException extends XpfoException {
    private final String call;
    private final int errno;
    private final String remedy;

    /** For {@link NativeErrors} and the subtypes: see there for which type a failure is. */
    protected NativeCallException(String call, int errno, String explanation, String remedy) {
        super(call + " failed with " + Errno.describe(errno) + ": " + explanation
                + (remedy.isEmpty() ? "" : ". Remedy: " + remedy));
        this.call = call;
        this.errno = errno;
        this.remedy = remedy;
    }

    /** The system call that failed, such as {@code "mmap"}. */
    public String call() {
        return call;
    }

    /** The errno the kernel returned. */
    public int errno() {
        return errno;
    }

    /** What the operator or caller can do; empty if nothing but fixing the caller helps. */
    public String remedy() {
        return remedy;
    }
}
