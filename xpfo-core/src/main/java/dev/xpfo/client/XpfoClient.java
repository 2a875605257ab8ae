// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import dev.xpfo.handoff.SocketDirectory;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.NativeErrors;
import dev.xpfo.memory.NotListeningException;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.PeerGoneException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.FrameType;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.span.GuardedSpan;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A connection to {@code xpfo serve}. {@link #grant} asks for memory and maps the chunk files the
 * service sends into one contiguous range between guard pages.
 *
 * <pre>{@code
 * try (XpfoClient client = XpfoClient.connect();
 *      GrantedMemory memory = client.grant(64 << 20)) {
 *     memory.segment().fill((byte) 0);
 * }
 * }</pre>
 *
 * <p>One request at a time per client (methods are synchronized); use one client per thread for
 * parallel requests. Closing the client drops the connection: the service then stops counting its
 * grants against the quota, but mappings already made stay valid until closed.
 *
 * <p>If the service hangs up before answering ({@link PeerGoneException}), a client holding no grant on
 * the connection connects again and asks once more; one holding a grant throws it (the service stopped
 * counting that grant with the connection, and it cannot be released any more; the mapping stays valid).
 */
public final class XpfoClient implements AutoCloseable {
    private final Path path;
    /** The connection: replaced when the service closed an idle one (it holds no grant then). */
    private UnixSocket socket;
    private FrameReader reader;
    private Messages.Welcome welcome;
    private int nextRequest = 1;
    /** Grants made on this connection and not yet released. */
    private int held;
    private boolean closed;

    private XpfoClient(Path path, UnixSocket socket) {
        this.path = path;
        shakeHands(socket);
    }

    private void shakeHands(UnixSocket socket) {
        this.socket = socket;
        this.reader = new FrameReader(socket, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
        try {
            try {
                socket.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(0).encode());
            } catch (PeerGoneException e) {
                // The service may have refused at once (BUSY, SHUTTING_DOWN) and hung up: read why.
                expectReply(0);
                throw e;
            }
            Frame reply = expectReply(0);
            this.welcome = Messages.Welcome.decode(reply);
            if (welcome.version() != Protocol.VERSION || welcome.chunkBytes() <= 0 || welcome.chunkBytes() % PageSize.BYTES != 0) {
                throw new XpfoException("the service answered with protocol version " + welcome.version()
                        + " and chunks of " + welcome.chunkBytes() + " bytes; this client speaks version " + Protocol.VERSION);
            }
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** Connects to the default socket ({@link ServiceSocket#forClient()}). */
    public static XpfoClient connect() {
        return connect(ServiceSocket.forClient());
    }

    /**
     * Connects and shakes hands.
     *
     * @throws NotListeningException {@code ENOENT} (no service there), {@code ECONNREFUSED} (not listening)
     * @throws NativeCallException   {@code EACCES} (the socket's mode or group shuts this user out)
     * @throws ServiceException      {@code UNSUPPORTED_VERSION}
     */
    public static XpfoClient connect(Path socketPath) {
        return new XpfoClient(socketPath, open(socketPath));
    }

    /** A socket connected to the service at {@code socketPath}, whose credentials this user trusts. */
    private static UnixSocket open(Path socketPath) {
        UnixSocket socket;
        try {
            socket = UnixSocket.connect(socketPath);
        } catch (NativeCallException e) {
            throw NativeErrors.serviceUnreachable(socketPath, e.errno());
        }
        try {
            trust(socketPath, socket.peerCredentials());
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    /**
     * Memory written into a grant is as private as the service that made the files: whoever holds a
     * secret memory file can map it. So the service must be root, this user, or listening where only
     * root can put a socket ({@link SocketDirectory#othersThanRootCouldListenIn}).
     */
    private static void trust(Path socketPath, UnixSocket.PeerCredentials service) {
        int me = ServiceSocket.currentUid();
        if (service.uid() == 0 || service.uid() == me) {
            return;
        }
        SocketDirectory.othersThanRootCouldListenIn(socketPath.toAbsolutePath().getParent()).ifPresent(why -> {
            throw new XpfoException("refusing the service at " + socketPath + ": it runs as uid " + service.uid()
                    + " (" + service + "), not root or this user (uid " + me + "), and listens where others than "
                    + "root could have put a socket (" + why + "), so it could be anybody's; memory it grants "
                    + "could be read by it");
        });
    }

    /** The size of the service's chunks: grants are whole chunks. */
    public long chunkBytes() {
        return welcome.chunkBytes();
    }

    /** The most the service grants in one request. */
    public long maxGrantBytes() {
        return welcome.maxGrantBytes();
    }

    /** The protocol version agreed. */
    public int version() {
        return welcome.version();
    }

    /**
     * Asks for {@code bytes} (rounded up to whole chunks) and maps them. Ready chunks come at once; if
     * the service has too few it populates the rest while this waits.
     *
     * @throws MemlockLimitException this process's {@code RLIMIT_MEMLOCK} has no room for the mapping
     *                               (checked before asking, so no grant is wasted), with remedies
     * @throws ServiceException      the service refused: {@code TOO_LARGE}, {@code OVER_QUOTA},
     *                               {@code RATE_LIMITED}, {@code POOL_EXHAUSTED}, ...
     */
    public GrantedMemory grant(long bytes) {
        return grant(bytes, false);
    }

    /**
     * As {@link #grant(long)}; with {@code warmOnly} the service refuses ({@code POOL_EXHAUSTED}) rather
     * than populate while this waits.
     */
    public synchronized GrantedMemory grant(long bytes, boolean warmOnly) {
        ensureOpen();
        if (bytes <= 0) {
            throw new IllegalArgumentException("a grant needs a positive size, not " + bytes);
        }
        long chunk = chunkBytes();
        long rounded = (bytes + chunk - 1) / chunk * chunk;
        MemlockLimit memlock = MemlockLimit.current();
        if (memlock.wouldRefuse(rounded)) {
            throw new MemlockLimitException(rounded, memlock.soft(), memlock.hard(), memlock.lockedBytes());
        }
        int request = nextRequest++;
        Frame first = firstReply(new Messages.Grant(bytes, warmOnly ? Protocol.GRANT_WARM_ONLY : 0).frame(request), request);
        List<Integer> fds = new ArrayList<>();
        long grantId = -1;
        try {
            Messages.Chunks chunks;
            do {
                Frame frame = first != null ? first : expectReply(request);
                first = null;
                int[] received = frame.fds();
                for (int fd : received) {
                    fds.add(fd);
                }
                chunks = Messages.Chunks.decode(frame);
                grantId = chunks.grantId();
                if (chunks.firstIndex() != fds.size() - received.length || chunks.chunkBytes() != chunk) {
                    throw new XpfoException("service sent chunks out of order or of another size: " + chunks);
                }
            } while (!chunks.last());
            GrantedMemory memory = map(grantId, fds, chunk);
            held++;
            return memory;
        } catch (RuntimeException e) {
            fds.forEach(Libc::close);
            if (grantId >= 0 && !closed) {
                try {
                    sendRelease(grantId);
                } catch (RuntimeException releaseFailure) {
                    e.addSuppressed(releaseFailure);
                }
            }
            throw e;
        }
    }

    /** Maps every chunk, in order, into one reserved span; closes the descriptors (the mapping keeps the files). */
    private GrantedMemory map(long grantId, List<Integer> fds, long chunk) {
        for (int fd : fds) {
            XpfoFile file = XpfoFile.adopt(fd);
            if (file.size() != chunk) {
                throw new XpfoException("service sent a file of " + file.size() + " bytes for a chunk of " + chunk);
            }
        }
        GuardedSpan span = GuardedSpan.reserve(chunk * fds.size());
        try {
            for (int i = 0; i < fds.size(); i++) {
                long at = span.data() + i * chunk;
                long mapped = Libc.mmap(at, chunk, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_FIXED,
                        fds.get(i), 0);
                if (mapped == Libc.MAP_FAILED) {
                    throw NativeErrors.mapping("mmap", Libc.errno(), chunk * fds.size(),
                            "could not map chunk " + i + " of a grant");
                }
            }
            if (Libc.madvise(span.data(), span.dataBytes(), Libc.MADV_DONTFORK) != 0) {
                throw NativeErrors.call("madvise(MADV_DONTFORK)", Libc.errno(),
                        "could not keep granted memory out of forked children");
            }
        } catch (RuntimeException e) {
            span.release();
            throw e;
        }
        fds.forEach(Libc::close);
        fds.clear();
        return new GrantedMemory(this, grantId, (int) (span.dataBytes() / chunk), span);
    }

    /** The service's state as a JSON document ({@code docs/protocol.md}, "STATUS_REPLY"). */
    public synchronized String status() {
        ensureOpen();
        int request = nextRequest++;
        Frame reply = firstReply(Messages.status(request), request);
        if (reply.type() != FrameType.STATUS_REPLY.code()) {
            throw new XpfoException("expected STATUS_REPLY, got " + reply);
        }
        return new String(reply.payload(), StandardCharsets.UTF_8);
    }

    /**
     * Tells the service a grant is unmapped. If the connection is gone there is nobody to tell (the
     * service counts the grant until no process holds its files), so that is not an error.
     */
    synchronized void release(GrantedMemory memory) {
        held--;
        if (!closed) {
            try {
                sendRelease(memory.grantId());
            } catch (ServiceException e) {
                throw e;
            } catch (RuntimeException e) {
                close();
            }
        }
    }


    private void sendRelease(long grantId) {
        int request = nextRequest++;
        send(new Messages.Release(grantId).frame(request));
        Messages.Released.decode(expectReply(request));
    }

    /**
     * Sends a request and reads the first frame of its reply. The service closes a connection that holds
     * no grant after its idle timeout ({@code xpfo serve --idle-timeout}, 60 s by default) without
     * reading what is pending; so if the connection turns out gone before any reply, and this client
     * holds no grant on it (nothing is lost with it), it connects again and sends the request once more.
     */
    private Frame firstReply(Frame request, int requestId) {
        if (held == 0) {
            Frame reply = null;
            try {
                socket.send(request.encode());
                reply = reader.next();
            } catch (PeerGoneException e) {
                // gone before any reply: reconnect below
            } catch (RuntimeException e) {
                close();
                throw e;
            }
            if (reply != null) {
                return checkReply(reply, requestId);
            }
            UnixSocket old = socket;
            try {
                shakeHands(open(path));
            } catch (RuntimeException e) {
                closed = true;
                old.close();
                throw e;
            }
            old.close();
        }
        send(request);
        return expectReply(requestId);
    }

    private void send(Frame frame) {
        try {
            socket.send(frame.encode());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The next frame, which must answer {@code request}; an ERROR becomes a {@link ServiceException}. */
    private Frame expectReply(int request) {
        Frame frame;
        try {
            frame = reader.next();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        if (frame == null) {
            close();
            throw new XpfoException("the service at " + path + " closed the connection");
        }
        return checkReply(frame, request);
    }

    /** {@code frame} if it answers {@code request}; an ERROR becomes a {@link ServiceException}. */
    private Frame checkReply(Frame frame, int request) {
        if (frame.type() == FrameType.ERROR.code()) {
            frame.closeFds();
            Messages.Error error = Messages.Error.decode(frame);
            if (ErrorCode.of(error.code()).map(ErrorCode::closesConnection).orElse(true)) {
                close();
            }
            throw new ServiceException(error.code(), error.message());
        }
        if (frame.requestId() != request) {
            frame.closeFds();
            close();
            throw new XpfoException("reply to request " + frame.requestId() + " while waiting for " + request);
        }
        return frame;
    }

    private void ensureOpen() {
        if (closed) {
            throw new XpfoClosedException("xpfo client");
        }
    }

    /** Drops the connection. Granted memory stays mapped until closed. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            socket.close();
        }
    }

    @Override
    public String toString() {
        return "XpfoClient[" + path + ", protocol " + welcome.version() + ", chunks of " + welcome.chunkBytes() + "]";
    }
}
