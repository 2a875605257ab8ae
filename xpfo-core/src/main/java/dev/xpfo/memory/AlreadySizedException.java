// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * A secret memory file was sized twice. The kernel accepts exactly one {@code ftruncate}, from size 0,
 * and refuses any later one (grow, shrink or the same size) with {@code EINVAL}.
 */
public final class AlreadySizedException extends XpfoException {
    public AlreadySizedException(long currentSize, long requestedSize) {
        super("this secret memory file is already sized to " + currentSize + " bytes; it cannot be resized to "
                + requestedSize + " (the kernel allows exactly one ftruncate). Open a new file instead");
    }
}
