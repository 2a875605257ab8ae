// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.stock;

import dev.xpfo.memory.XpfoException;

/**
 * A {@link Stock} could not cover a take; nothing was taken. A take that would pass the stock's
 * maximum throws {@link dev.xpfo.pool.PoolLimitException} ({@link dev.xpfo.pool.PoolLimitException.Limit#MAXIMUM}) instead, as a
 * {@link dev.xpfo.pool.PagePool} does.
 */
public final class StockExhaustedException extends XpfoException {
    /** Why. */
    public enum Reason {
        /** Too few chunks were ready and the caller asked not to wait for populating. */
        NOT_WARM,
        /** Populating the missing chunks took longer than the caller's deadline. */
        DEADLINE,
        /** The kernel refused to populate (memlock limit, out of memory, descriptor limit): see the cause. */
        POPULATE_FAILED
    }

    private final Reason reason;

    StockExhaustedException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
