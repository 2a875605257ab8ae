// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.XpfoException;

/**
 * A secret's canary was overwritten: something wrote past the end (or before the start) of a secret,
 * almost certainly native code given its address. The secret was wiped anyway; its slot is retired,
 * never reused.
 */
public final class CanaryCorruptedException extends XpfoException {
    CanaryCorruptedException(String message) {
        super(message);
    }
}
