// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/** A file or mapping was used after {@code close()}. */
public final class XpfoClosedException extends XpfoException {
    public XpfoClosedException(String what) {
        super(what + " is closed");
    }
}
