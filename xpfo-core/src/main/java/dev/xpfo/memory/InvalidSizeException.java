// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/** A size that no secret memory file can have: zero, negative, or more than this machine's memory. */
public final class InvalidSizeException extends XpfoException {
    public InvalidSizeException(String message) {
        super(message);
    }
}
