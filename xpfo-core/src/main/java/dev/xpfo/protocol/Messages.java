// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.client.ErrorCode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The payload of each frame type, as records that encode to and decode from frames. Decoding checks
 * the payload's exact length and throws {@link ProtocolException} ({@link ErrorCode#BAD_REQUEST}).
 */
public final class Messages {
    private Messages() {
    }

    /** HELLO: {@code u32 magic, u16 min_version, u16 max_version}. */
    public record Hello(int minVersion, int maxVersion) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.HELLO, requestId, buffer(8).putInt(Protocol.MAGIC)
                    .putShort((short) minVersion).putShort((short) maxVersion).array());
        }

        public static Hello decode(Frame frame) {
            ByteBuffer body = exactly(frame, FrameType.HELLO, 8);
            int magic = body.getInt();
            if (magic != Protocol.MAGIC) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, String.format("HELLO magic is 0x%08x, not 0x%08x",
                        magic, Protocol.MAGIC));
            }
            return new Hello(Short.toUnsignedInt(body.getShort()), Short.toUnsignedInt(body.getShort()));
        }
    }

    /** WELCOME: {@code u16 version, u16 reserved, u32 max_fds_per_frame, u64 chunk_bytes, u64 max_grant_bytes}. */
    public record Welcome(int version, int maxFdsPerFrame, long chunkBytes, long maxGrantBytes) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.WELCOME, requestId, buffer(24).putShort((short) version).putShort((short) 0)
                    .putInt(maxFdsPerFrame).putLong(chunkBytes).putLong(maxGrantBytes).array());
        }

        public static Welcome decode(Frame frame) {
            ByteBuffer body = exactly(frame, FrameType.WELCOME, 24);
            int version = Short.toUnsignedInt(body.getShort());
            body.getShort();
            return new Welcome(version, body.getInt(), body.getLong(), body.getLong());
        }
    }

    /** GRANT: {@code u64 bytes, u32 flags, u32 reserved}. */
    public record Grant(long bytes, int flags) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.GRANT, requestId, buffer(16).putLong(bytes).putInt(flags).putInt(0).array());
        }

        public static Grant decode(Frame frame) {
            ByteBuffer body = exactly(frame, FrameType.GRANT, 16);
            long bytes = body.getLong();
            int flags = body.getInt();
            if (bytes <= 0) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, "GRANT of " + Long.toUnsignedString(bytes)
                        + " bytes: must be 1 to 2^63-1");
            }
            if ((flags & ~Protocol.GRANT_WARM_ONLY) != 0 || body.getInt() != 0) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, "GRANT flags " + flags + " unknown, or reserved field set");
            }
            return new Grant(bytes, flags);
        }

        public boolean warmOnly() {
            return (flags & Protocol.GRANT_WARM_ONLY) != 0;
        }
    }

    /**
     * CHUNKS: {@code u64 grant_id, u64 chunk_bytes, u32 total_chunks, u32 first_index, u32 count,
     * u32 reserved}, with {@code count} descriptors attached: chunks {@code first_index} to
     * {@code first_index + count - 1} of the grant, in order.
     */
    public record Chunks(long grantId, long chunkBytes, int totalChunks, int firstIndex, int count) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.CHUNKS, requestId, buffer(32).putLong(grantId).putLong(chunkBytes)
                    .putInt(totalChunks).putInt(firstIndex).putInt(count).putInt(0).array());
        }

        public static Chunks decode(Frame frame) {
            ByteBuffer body = exactly(frame, FrameType.CHUNKS, 32);
            Chunks chunks = new Chunks(body.getLong(), body.getLong(), body.getInt(), body.getInt(), body.getInt());
            if (chunks.count != frame.fds().length || chunks.count <= 0 || chunks.firstIndex < 0
                    || chunks.firstIndex + chunks.count > chunks.totalChunks) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, "CHUNKS frame inconsistent: " + chunks + " with "
                        + frame.fds().length + " descriptors");
            }
            return chunks;
        }

        /** True if this frame carries the grant's last chunks. */
        public boolean last() {
            return firstIndex + count == totalChunks;
        }
    }

    /** RELEASE: {@code u64 grant_id}. */
    public record Release(long grantId) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.RELEASE, requestId, buffer(8).putLong(grantId).array());
        }

        public static Release decode(Frame frame) {
            return new Release(exactly(frame, FrameType.RELEASE, 8).getLong());
        }
    }

    /** RELEASED: {@code u64 grant_id, u64 bytes}. */
    public record Released(long grantId, long bytes) {
        public Frame frame(int requestId) {
            return Frame.of(FrameType.RELEASED, requestId, buffer(16).putLong(grantId).putLong(bytes).array());
        }

        public static Released decode(Frame frame) {
            ByteBuffer body = exactly(frame, FrameType.RELEASED, 16);
            return new Released(body.getLong(), body.getLong());
        }
    }

    /** STATUS: empty. */
    public static Frame status(int requestId) {
        return Frame.of(FrameType.STATUS, requestId, new byte[0]);
    }

    /** STATUS_REPLY: a UTF-8 JSON document. */
    public static Frame statusReply(int requestId, String json) {
        return Frame.of(FrameType.STATUS_REPLY, requestId, json.getBytes(StandardCharsets.UTF_8));
    }

    /** ERROR: {@code u16 code, u16 reserved}, then a UTF-8 message (no terminator). */
    public record Error(int code, String message) {
        public Error(ErrorCode code, String message) {
            this(code.code(), message);
        }

        public Frame frame(int requestId) {
            byte[] text = message.getBytes(StandardCharsets.UTF_8);
            return Frame.of(FrameType.ERROR, requestId, buffer(4 + text.length).putShort((short) code)
                    .putShort((short) 0).put(text).array());
        }

        public static Error decode(Frame frame) {
            ByteBuffer body = atLeast(frame, FrameType.ERROR, 4);
            int code = Short.toUnsignedInt(body.getShort());
            body.getShort();
            return new Error(code, StandardCharsets.UTF_8.decode(body).toString());
        }
    }

    private static ByteBuffer buffer(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer exactly(Frame frame, FrameType type, int bytes) {
        if (frame.type() != type.code() || frame.payload().length != bytes) {
            throw new ProtocolException(ErrorCode.BAD_REQUEST, "expected a " + type + " frame of " + bytes
                    + " bytes, got " + frame);
        }
        return frame.body();
    }

    private static ByteBuffer atLeast(Frame frame, FrameType type, int bytes) {
        if (frame.type() != type.code() || frame.payload().length < bytes) {
            throw new ProtocolException(ErrorCode.BAD_REQUEST, "expected a " + type + " frame of " + bytes
                    + "+ bytes, got " + frame);
        }
        return frame.body();
    }
}
