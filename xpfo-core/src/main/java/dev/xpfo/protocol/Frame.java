// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.linux.Libc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * One frame: a 12-byte header (payload length {@code u32}, type {@code u16}, flags {@code u16} = 0,
 * request id {@code u32}; little-endian) and its payload, with any descriptors that arrived with it.
 *
 * @param type      the type number (kept raw, so an unknown type can be reported as such)
 * @param requestId chosen by the client, echoed in every reply to that request
 * @param payload   the bytes after the header
 * @param fds       descriptors received with the frame; the receiver owns and must close them
 */
public record Frame(int type, int requestId, byte[] payload, int[] fds) {
    /** Bytes in a frame header. */
    public static final int HEADER_BYTES = 12;

    public static Frame of(FrameType type, int requestId, byte[] payload) {
        return new Frame(type.code(), requestId, payload, new int[0]);
    }

    /** The type, if it is one this version knows. */
    public Optional<FrameType> kind() {
        return FrameType.of(type);
    }

    /** The payload for reading, little-endian. */
    public ByteBuffer body() {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Header and payload, ready to send. */
    public byte[] encode() {
        ByteBuffer bytes = ByteBuffer.allocate(HEADER_BYTES + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putInt(payload.length).putShort((short) type).putShort((short) 0).putInt(requestId).put(payload);
        return bytes.array();
    }

    /** Closes the descriptors that came with this frame (when they are refused or not wanted). */
    public void closeFds() {
        for (int fd : fds) {
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return kind().map(Enum::name).orElse("type " + type) + " #" + requestId + " (" + payload.length
                + " bytes" + (fds.length > 0 ? ", " + fds.length + " fds" : "") + ")";
    }
}
