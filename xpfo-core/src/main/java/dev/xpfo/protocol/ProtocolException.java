// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.memory.XpfoException;

/** A peer broke the protocol: what it sent, and the error code the service answers with. */
public class ProtocolException extends XpfoException {
    private final ErrorCode code;

    public ProtocolException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    /** The code to answer with. */
    public ErrorCode code() {
        return code;
    }
}
