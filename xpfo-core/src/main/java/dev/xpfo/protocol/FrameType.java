// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import java.util.Optional;

/** The kinds of frame, with their numbers on the wire ({@code docs/protocol.md}, "Frame types"). */
public enum FrameType {
    /** Client to service, first frame: magic and the range of versions the client speaks. */
    HELLO(1),
    /** Service to client: the version chosen, the chunk size and the service's limits. */
    WELCOME(2),
    /** Client to service: grant this many bytes. */
    GRANT(3),
    /** Service to client: part or all of a grant, its chunk files attached. */
    CHUNKS(4),
    /** Client to service: a grant is no longer used (its memory stops counting against the quota). */
    RELEASE(5),
    /** Service to client: the release was recorded. */
    RELEASED(6),
    /** Client to service: report the service's state. */
    STATUS(7),
    /** Service to client: the state, as a JSON document. */
    STATUS_REPLY(8),
    /** Service to client: a request was refused. */
    ERROR(9);

    private final int code;

    FrameType(int code) {
        this.code = code;
    }

    /** The number sent in a frame header. */
    public int code() {
        return code;
    }

    /** The type with this number, if there is one. */
    public static Optional<FrameType> of(int code) {
        for (FrameType type : values()) {
            if (type.code == code) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }
}
