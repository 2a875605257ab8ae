// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import dev.xpfo.memory.XpfoException;

/**
 * xpfo could not put libcrypto's heap in secret memory, so the provider refuses to run (it never runs
 * with keys on the ordinary heap). The message names what happened and the remedy.
 */
public final class CryptoHeapException extends XpfoException {
    public CryptoHeapException(String message) {
        super(message);
    }

    public CryptoHeapException(String message, Throwable cause) {
        super(message, cause);
    }
}
