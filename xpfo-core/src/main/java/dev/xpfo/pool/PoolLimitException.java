// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.memory.XpfoException;

/**
 * The memory cannot grow: the configured maximum of a {@link PagePool} or of the service's stock, or
 * the process's memlock limit, is reached. Nothing was taken.
 */
public final class PoolLimitException extends XpfoException {
    /** Which ceiling was hit. */
    public enum Limit {
        /** The configured maximum ({@link PoolSettings#maximumBytes()}, or the stock's). */
        MAXIMUM,
        /** {@code RLIMIT_MEMLOCK}: the cause is the {@link dev.xpfo.memory.MemlockLimitException} with remedies. */
        MEMLOCK
    }

    private final Limit limit;

    PoolLimitException(Limit limit, String message, Throwable cause) {
        super(message, cause);
        this.limit = limit;
    }

    /**
     * The configured maximum is reached; {@code message} says what was asked, what is held and how to
     * raise the maximum.
     */
    public static PoolLimitException maximumReached(String message) {
        return new PoolLimitException(Limit.MAXIMUM, message, null);
    }

    public Limit limit() {
        return limit;
    }
}
