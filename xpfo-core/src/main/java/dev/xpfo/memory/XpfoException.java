// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/** Base of every error xpfo reports; unchecked, so callers catch only what they can act on. */
public class XpfoException extends RuntimeException {
    public XpfoException(String message) {
        super(message);
    }

    public XpfoException(String message, Throwable cause) {
        super(message, cause);
    }
}
