// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import dev.xpfo.memory.XpfoException;

import java.util.Optional;

/** The service refused a request: its error code and message ({@code docs/protocol.md}, "Error codes"). */
public final class ServiceException extends XpfoException {
    private final int code;

    public ServiceException(int code, String message) {
        super(ErrorCode.of(code).map(Enum::name).orElse("error " + code) + ": " + message);
        this.code = code;
    }

    /** The code, if this version knows it. */
    public Optional<ErrorCode> code() {
        return ErrorCode.of(code);
    }

    /** The code's number as sent. */
    public int rawCode() {
        return code;
    }
}
