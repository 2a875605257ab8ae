package dev.xpfo.pool;

import dev.xpfo.memory.XpfoException;

/** The pool cannot grow: its configured maximum, or the process's memlock limit, is reached. */
public final class PoolLimitException extends XpfoException {
    /** Which ceiling was hit. */
    public enum Limit {
        /** {@link PoolSettings#maximumBytes()}. */
        MAXIMUM,
        /** {@code RLIMIT_MEMLOCK}: the cause is the {@link dev.xpfo.memory.MemlockLimitException} with remedies. */
        MEMLOCK
    }

    private final Limit limit;

    PoolLimitException(Limit limit, String message, Throwable cause) {
        super(message, cause);
        this.limit = limit;
    }

    public Limit limit() {
        return limit;
    }
}
