// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * Nothing listens at a Unix socket's path: {@code connect} found no file there ({@code ENOENT}), or a
 * socket file left by a process that is gone ({@code ECONNREFUSED}).
 */
public final class NotListeningException extends NativeCallException {
    NotListeningException(String call, int errno, String explanation, String remedy) {
        super(call, errno, explanation, remedy);
    }
}
