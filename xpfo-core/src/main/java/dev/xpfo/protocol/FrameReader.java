// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.CallTimedOutException;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.LongSupplier;

/**
 * Reads whole frames from a stream socket, however the bytes arrive. It reads a header first and then
 * exactly the payload it announces, never past the frame: descriptors travel with a frame's first
 * byte, and reading into the next frame could pick up that frame's descriptors as this one's.
 *
 * <p>With a receive timeout on the socket ({@link UnixSocket#timeouts}) shorter than the deadlines set
 * here, a frame must be finished within {@link #frameDeadline} of its first byte however slowly it
 * trickles in, and the next frame must begin within {@link #idleDeadline}.
 */
public final class FrameReader {
    private final UnixSocket socket;
    private final int maxPayload;
    private final int maxFds;
    private long frameDeadlineNanos = Long.MAX_VALUE;
    private long idleDeadlineNanos = Long.MAX_VALUE;
    /** The deadlines' clock: {@link System#nanoTime()} but in tests, which move it themselves. */
    private LongSupplier nanoTime = System::nanoTime;

    /**
     * @param maxPayload the largest payload accepted; a header announcing more is refused unread
     * @param maxFds     descriptors accepted per frame; more is a protocol error (0: none at all)
     */
    public FrameReader(UnixSocket socket, int maxPayload, int maxFds) {
        this.socket = socket;
        this.maxPayload = maxPayload;
        this.maxFds = maxFds;
    }

    /**
     * Limits how long a frame may take from its first byte to its last, however slowly the bytes come
     * (the socket's receive timeout must be shorter, so this reader wakes up to check).
     */
    public FrameReader frameDeadline(Duration deadline) {
        this.frameDeadlineNanos = deadline.toNanos();
        return this;
    }

    /**
     * Limits how long the peer may stay silent before starting its next frame ({@code null}: no limit,
     * the default). A service sets it for the handshake, so a connection cannot sit there unused.
     */
    public FrameReader idleDeadline(Duration deadline) {
        this.idleDeadlineNanos = deadline == null ? Long.MAX_VALUE : deadline.toNanos();
        return this;
    }

    /** Measures the deadlines on {@code clock} instead of {@link System#nanoTime()} (tests). */
    FrameReader clock(LongSupplier clock) {
        this.nanoTime = clock;
        return this;
    }

    /**
     * The next frame, or {@code null} if the peer closed the connection between frames.
     *
     * @throws ProtocolException {@link ErrorCode#BAD_REQUEST}: oversize length, non-zero flags, too many
     *                           descriptors, a frame cut short by the peer closing or going quiet;
     *                           {@link IdleDeadlineException} if no frame began within the idle deadline
     */
    public Frame next() {
        int[] fds = new int[0];
        try {
            byte[] header = new byte[Frame.HEADER_BYTES];
            int have = 0;
            long started = 0;
            long waitingSince = nanoTime.getAsLong();
            while (have < header.length) {
                UnixSocket.Received received = receive(header.length - have);
                if (received == null && have > 0) {
                    checkDeadline(started);
                    continue;
                }
                if (received == null) {
                    if (nanoTime.getAsLong() - waitingSince > idleDeadlineNanos) {
                        throw new IdleDeadlineException("no frame within " + idleDeadlineNanos / 1_000_000 + " ms");
                    }
                    continue;
                }
                if (have == 0) {
                    started = nanoTime.getAsLong();
                }
                checkDeadline(started);
                fds = append(fds, received.fds());
                if (received.endOfStream()) {
                    if (have == 0 && fds.length == 0) {
                        return null;
                    }
                    throw new ProtocolException(ErrorCode.BAD_REQUEST, "connection closed inside a frame header");
                }
                System.arraycopy(received.data(), 0, header, have, received.data().length);
                have += received.data().length;
            }
            ByteBuffer fields = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            long length = Integer.toUnsignedLong(fields.getInt());
            int type = Short.toUnsignedInt(fields.getShort());
            int flags = Short.toUnsignedInt(fields.getShort());
            int requestId = fields.getInt();
            if (length > maxPayload) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, "frame of " + length + " bytes announced; at most "
                        + maxPayload + " accepted");
            }
            if (flags != 0) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, "frame flags must be 0, not " + flags);
            }
            byte[] payload = new byte[(int) length];
            int got = 0;
            while (got < payload.length) {
                UnixSocket.Received received = receive(payload.length - got);
                checkDeadline(started);
                if (received == null) {
                    continue;
                }
                fds = append(fds, received.fds());
                if (received.endOfStream()) {
                    throw new ProtocolException(ErrorCode.BAD_REQUEST, "connection closed after " + got + " of "
                            + payload.length + " payload bytes");
                }
                System.arraycopy(received.data(), 0, payload, got, received.data().length);
                got += received.data().length;
            }
            if (fds.length > maxFds) {
                throw new ProtocolException(ErrorCode.BAD_REQUEST, fds.length + " descriptors sent with a frame; at most "
                        + maxFds + " accepted");
            }
            return new Frame(type, requestId, payload, fds);
        } catch (RuntimeException e) {
            for (int fd : fds) {
                Libc.close(fd);
            }
            throw e;
        }
    }

    /**
     * One receive; {@code null} if the socket's receive timeout passed (the caller checks its deadlines).
     * Descriptors beyond {@code maxFds} make the kernel truncate, which {@link UnixSocket#receive}
     * reports after closing what it got.
     */
    private UnixSocket.Received receive(int bytes) {
        try {
            return socket.receive(bytes, Math.max(maxFds, 1));
        } catch (CallTimedOutException e) {
            return null;
        } catch (NativeCallException | XpfoClosedException e) {
            throw e;
        } catch (XpfoException e) {
            throw new ProtocolException(ErrorCode.BAD_REQUEST, e.getMessage());
        }
    }

    private void checkDeadline(long started) {
        if (nanoTime.getAsLong() - started > frameDeadlineNanos) {
            throw new ProtocolException(ErrorCode.BAD_REQUEST, "frame not finished within "
                    + frameDeadlineNanos / 1_000_000 + " ms");
        }
    }

    private static int[] append(int[] fds, int[] more) {
        if (more.length == 0) {
            return fds;
        }
        int[] all = Arrays.copyOf(fds, fds.length + more.length);
        System.arraycopy(more, 0, all, fds.length, more.length);
        return all;
    }
}
