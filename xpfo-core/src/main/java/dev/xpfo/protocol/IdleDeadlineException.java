// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.client.ErrorCode;

/**
 * The peer began no frame within the {@linkplain FrameReader#idleDeadline idle deadline}: it broke
 * nothing, it only went quiet. Answered like any {@link ErrorCode#BAD_REQUEST} unless the reader's owner
 * treats silence differently (the service closes idle connections without an error frame).
 */
public final class IdleDeadlineException extends ProtocolException {
    public IdleDeadlineException(String message) {
        super(ErrorCode.BAD_REQUEST, message);
    }
}
