// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * The process at the other end of a socket closed its end, or its connection was dropped, in the
 * middle of an exchange: {@code EPIPE} (sent after it closed), {@code ECONNRESET} (it closed with data
 * unread, or the connection was reset) or {@code ENOTCONN} (no longer connected). Nothing is wrong on
 * this side; what was being sent or awaited will not arrive. Connect again if the exchange should go on.
 */
public final class PeerGoneException extends NativeCallException {
    PeerGoneException(String call, int errno, String explanation, String remedy) {
        super(call, errno, explanation, remedy);
    }
}
