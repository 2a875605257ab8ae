// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * A blocking socket call waited as long as the socket's timeout allows ({@code SO_RCVTIMEO} or
 * {@code SO_SNDTIMEO}) and the kernel gave up with {@code EAGAIN}: nothing arrived, or the peer did not
 * read what was sent, in time.
 */
public final class CallTimedOutException extends NativeCallException {
    CallTimedOutException(String call, int errno, String explanation, String remedy) {
        super(call, errno, explanation, remedy);
    }
}
