package dev.xpfo.pool;

import dev.xpfo.memory.XpfoException;

/** A {@link FilePool} could not cover a take; nothing was taken. */
public final class PoolExhaustedException extends XpfoException {
    /** Why. */
    public enum Reason {
        /** Populating the missing chunks would pass the pool's maximum. */
        MAXIMUM,
        /** Too few chunks were ready and the caller asked not to wait for populating. */
        NOT_WARM,
        /** Populating the missing chunks took longer than the caller's deadline. */
        DEADLINE,
        /** The kernel refused to populate (memlock limit, out of memory, descriptor limit): see the cause. */
        POPULATE_FAILED
    }

    private final Reason reason;

    PoolExhaustedException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
