// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import java.util.Optional;

/**
 * Why the service refused a request ({@code docs/protocol.md}, "Error codes"). After the codes that
 * {@linkplain #closesConnection() close the connection}, the service hangs up; after the others the
 * client may send its next request.
 */
public enum ErrorCode {
    /** The frame or its contents broke the protocol; the service drops the connection. */
    BAD_REQUEST(1, true),
    /** The client's HELLO offered no version the service speaks; the service drops the connection. */
    UNSUPPORTED_VERSION(2, true),
    /** The grant is larger than the service ever grants at once. */
    TOO_LARGE(3, false),
    /** The grant would put the peer's user over its outstanding-bytes quota. */
    OVER_QUOTA(4, false),
    /** The peer's user sent more requests per second than its quota allows. */
    RATE_LIMITED(5, false),
    /** The pool could not cover the grant: the service's maximum is reached, or populating took too long. */
    POOL_EXHAUSTED(6, false),
    /** RELEASE named a grant this connection does not hold. */
    UNKNOWN_GRANT(7, false),
    /** The service is stopping; the connection closes. */
    SHUTTING_DOWN(8, true),
    /** The service failed for a reason of its own (logged there). */
    INTERNAL(9, false),
    /** The service is serving as many connections as it allows; the connection closes. */
    BUSY(10, true);

    private final int code;
    private final boolean closesConnection;

    ErrorCode(int code, boolean closesConnection) {
        this.code = code;
        this.closesConnection = closesConnection;
    }

    /** The number sent in an ERROR frame. */
    public int code() {
        return code;
    }

    /** True if the service closes the connection after sending this error. */
    public boolean closesConnection() {
        return closesConnection;
    }

    /** The code with this number, if there is one. */
    public static Optional<ErrorCode> of(int code) {
        for (ErrorCode error : values()) {
            if (error.code == code) {
                return Optional.of(error);
            }
        }
        return Optional.empty();
    }
}
