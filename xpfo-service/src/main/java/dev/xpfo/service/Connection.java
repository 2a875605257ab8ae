// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.pool.PoolLimitException;
import dev.xpfo.stock.Stock;
import dev.xpfo.stock.StockExhaustedException;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.FrameType;
import dev.xpfo.protocol.IdleDeadlineException;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.protocol.ProtocolException;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One client, served on its own thread: handshake, then requests one at a time until it hangs up,
 * breaks the protocol, holds no grant and makes or releases none for the idle timeout, is evicted
 * for a user below its fair share of connections ({@link #evict}), or the service stops.
 * Whatever happens, its socket closes and the grants it held stop counting against its user's quota.
 */
final class Connection implements Runnable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    /** How long a grant over its quota waits for grants its user let go of to be confirmed gone. */
    private static final Duration CONFIRM_PATIENCE = Duration.ofSeconds(4);
    /** How long the acceptor waits at most to tell an evicted client why. */
    private static final Duration EVICTION_SEND = Duration.ofMillis(100);

    /** What a client is told when its request failed inside the service (the details are in the log). */
    static final String INTERNAL_MESSAGE = "the request failed inside the service; its log says why";

    private final Service service;
    private final UnixSocket socket;
    private final UnixSocket.PeerCredentials peer;
    private final FrameReader reader;
    /** Grants this connection holds, by id. */
    private final Map<Long, Holdings.Grant> grants = new HashMap<>();
    /**
     * The service's own descriptors of each held grant's files, which {@link SentFileCloser} closes
     * off this thread: a RELEASE or the end of the connection closes any it has not reached yet, so a
     * scan after either never finds the service itself holding the grant.
     */
    private final Map<Long, List<XpfoFile>> sentCopies = new HashMap<>();
    /** When this connection was accepted, to evict the oldest first. */
    private final long connectedAt = System.nanoTime();
    /** When it last made or released a grant (or shook hands): idleness is measured from there. */
    private long lastGrantActivity = System.nanoTime();
    /** How long a receive blocks at most, so deadlines are checked. */
    private volatile Duration tick = Duration.ofMillis(20);
    private boolean busy;
    private boolean stopping;
    /** Whether it holds a grant, as of the last request answered (read by the acceptor). Guarded by this. */
    private boolean holdsGrant;
    /** Evicted for another user's connection: it was told so, and is answered nothing more. */
    private boolean evicted;

    Connection(Service service, UnixSocket socket, UnixSocket.PeerCredentials peer) {
        this.service = service;
        this.socket = socket;
        this.peer = peer;
        this.reader = new FrameReader(socket, Protocol.MAX_REQUEST_PAYLOAD, 0);
    }

    UnixSocket.PeerCredentials peer() {
        return peer;
    }

    @Override
    public void run() {
        try {
            Duration timeout = service.settings().frameTimeout();
            // Receives wake up often enough to enforce the whole-frame, handshake and idle deadlines.
            long shortest = Math.min(timeout.toMillis(), service.settings().idleTimeout().toMillis());
            tick = Duration.ofMillis(Math.max(20, shortest / 4));
            socket.timeouts(tick, timeout);
            reader.frameDeadline(timeout).idleDeadline(timeout);
            if (handshake()) {
                serve();
            }
        } catch (ProtocolException e) {
            refuse(0, e.code(), e.getMessage());
        } catch (XpfoClosedException e) {
            // stopped by the service
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "connection of " + peer + " ended: " + e.getMessage());
        } finally {
            synchronized (this) {
                stopping = true; // from here on never evicted: the acceptor must not write to a closing socket
            }
            releaseAll();
            socket.close();
            service.disconnected(this);
        }
    }

    private boolean handshake() {
        Frame first = reader.next();
        if (first == null) {
            return false;
        }
        Messages.Hello hello = Messages.Hello.decode(first);
        if (hello.minVersion() > Protocol.VERSION || hello.maxVersion() < Protocol.VERSION) {
            refuse(first.requestId(), ErrorCode.UNSUPPORTED_VERSION, "this service speaks version " + Protocol.VERSION
                    + " only; the client offered " + hello.minVersion() + " to " + hello.maxVersion());
            return false;
        }
        send(new Messages.Welcome(Protocol.VERSION, Protocol.MAX_FDS_PER_FRAME, service.pool().chunkBytes(),
                service.settings().maxGrantBytes()).frame(first.requestId()));
        lastGrantActivity = System.nanoTime();
        return true;
    }

    private void serve() {
        while (true) {
            Frame frame;
            try {
                frame = nextRequest();
            } catch (IdleDeadlineException e) {
                // No error frame: the client is not reading now, and its next request would only meet a closed socket.
                LOG.log(System.Logger.Level.INFO, () -> "closed the idle connection of " + peer + ": no grant held, "
                        + "made or released for " + service.settings().idleTimeout().toMillis() + " ms");
                return;
            }
            if (frame == null) {
                return;
            }
            synchronized (this) {
                if (stopping) {
                    if (!evicted) {
                        refuse(frame.requestId(), ErrorCode.SHUTTING_DOWN, "the service is stopping");
                    }
                    return;
                }
                busy = true;
            }
            try {
                answer(frame);
            } catch (ProtocolException e) {
                refuse(frame.requestId(), e.code(), e.getMessage());
                return;
            } catch (XpfoClosedException e) {
                refuse(frame.requestId(), ErrorCode.SHUTTING_DOWN, "the service is stopping");
                return;
            } catch (AnswerNotSent e) {
                // The client hung up or stopped reading (peer gone, timed out), or the kernel refused the send:
                // a grant may be half sent, so the connection ends; the client's descriptors are its own.
                LOG.log(System.Logger.Level.DEBUG, () -> "connection of " + peer + " ended: " + e.getCause().getMessage());
                return;
            } catch (RuntimeException e) {
                internal(frame.requestId(), e);
            } finally {
                synchronized (this) {
                    busy = false;
                    holdsGrant = !grants.isEmpty();
                }
            }
            synchronized (this) {
                if (stopping) {
                    return;
                }
            }
        }
    }

    /**
     * The next request. A connection holding no grant is closed once the idle timeout has passed since
     * it last made or released a grant (or shook hands), whatever other requests ({@code STATUS}) it
     * sends meanwhile: only grant activity keeps it. One holding grants may wait as long as it likes
     * (closing it would leave its grants charged and take away only the client's way to release them).
     * Idle-but-chatty is not the only defence: a full table evicts grant-less connections by fair share
     * ({@link Service}); connections that each hold a grant are never closed or evicted.
     *
     * @throws IdleDeadlineException the idle timeout passed with no grant held, made or released
     */
    private Frame nextRequest() {
        if (!grants.isEmpty()) {
            reader.idleDeadline(null);
            return reader.next();
        }
        long left = service.settings().idleTimeout().toNanos() - (System.nanoTime() - lastGrantActivity);
        if (left <= 0) {
            throw new IdleDeadlineException("no grant made or released within the idle timeout");
        }
        reader.idleDeadline(Duration.ofNanos(left));
        return reader.next();
    }

    /** When it was accepted ({@link System#nanoTime()}), to evict the oldest first. */
    long connectedAt() {
        return connectedAt;
    }

    /**
     * Evicts this connection for another user's (called by the acceptor), if it holds no grant and is
     * not answering a request: tells the client {@code BUSY} with why, and hangs up. A connection
     * holding a grant is never evicted (closing it would not free its memory).
     *
     * @return true if it was evicted, false if it holds a grant, is busy or is ending already
     */
    boolean evict(String why) {
        // Under the lock throughout: the connection's thread closes the socket only after taking it.
        synchronized (this) {
            if (busy || stopping || holdsGrant) {
                return false;
            }
            stopping = true;
            evicted = true;
            try {
                // Never wait long on a client that does not read: the acceptor is sending.
                socket.timeouts(tick, EVICTION_SEND);
                send(new Messages.Error(ErrorCode.BUSY, "closed to make room for another user: " + why).frame(0));
            } catch (RuntimeException e) {
                // the client does not read or is gone: it learns from the closed socket
            }
            socket.shutdown();
        }
        service.refused(ErrorCode.BUSY);
        LOG.log(System.Logger.Level.INFO, "evicted the grant-less connection of " + peer + ": " + why);
        return true;
    }

    /**
     * A request failed inside the service: the exception (class, stack) goes to the service's log
     * only; the client gets a plain message, never Java class names or internals.
     */
    private void internal(int request, RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "request of " + peer + " failed inside the service", e);
        refuse(request, ErrorCode.INTERNAL, INTERNAL_MESSAGE);
    }

    /** Answers one request. */
    private void answer(Frame frame) {
        FrameType type = frame.kind().orElseThrow(() ->
                new ProtocolException(ErrorCode.BAD_REQUEST, "unknown frame type " + frame.type()));
        // RELEASE is never rate limited: refusing it would leave memory charged that the client let go of.
        if (type != FrameType.RELEASE && !service.quotas().admitRequest(peer.uid())) {
            refuse(frame.requestId(), ErrorCode.RATE_LIMITED, "uid " + peer.uid() + " is over its "
                    + service.settings().quota().requestsPerSecond() + " requests per second");
            return;
        }
        switch (type) {
            case GRANT -> grant(frame.requestId(), Messages.Grant.decode(frame));
            case RELEASE -> release(frame.requestId(), Messages.Release.decode(frame));
            case STATUS -> {
                if (frame.payload().length != 0) {
                    throw new ProtocolException(ErrorCode.BAD_REQUEST, "STATUS takes no payload");
                }
                send(Messages.statusReply(frame.requestId(), service.statusJson()));
            }
            default -> throw new ProtocolException(ErrorCode.BAD_REQUEST, type + " is not a request, or not allowed here");
        }
    }

    private void grant(int request, Messages.Grant grant) {
        long started = System.nanoTime();
        long chunk = service.pool().chunkBytes();
        if (grant.bytes() > service.settings().maxGrantBytes()) {
            refuse(request, ErrorCode.TOO_LARGE, Bytes.format(grant.bytes()) + " asked; at most "
                    + Bytes.format(service.settings().maxGrantBytes()) + " per grant");
            return;
        }
        // maxGrantBytes is at most the stock's maximum, so the count fits an int.
        int chunks = (int) ((grant.bytes() + chunk - 1) / chunk);
        long bytes = chunks * chunk;
        if (!service.quotas().reserve(peer.uid(), bytes) && !reserveOnceConfirmed(bytes)) {
            long unconfirmed = service.holdings().pendingChunks(peer.uid()) * chunk;
            refuse(request, ErrorCode.OVER_QUOTA, "uid " + peer.uid() + " holds "
                    + Bytes.format(service.quotas().outstanding(peer.uid())) + (unconfirmed == 0 ? "" : " (" + Bytes.format(unconfirmed)
                    + " of it let go of but not yet gone by the kernel's count)") + "; " + Bytes.format(bytes)
                    + " more passes its quota of " + Bytes.format(service.settings().quota().outstandingBytes()));
            return;
        }
        Stock.Taken taken;
        try {
            taken = service.pool().take(chunks, service.settings().coldDeadline(), grant.warmOnly());
        } catch (StockExhaustedException | PoolLimitException e) {
            service.quotas().release(peer.uid(), bytes);
            refuse(request, ErrorCode.POOL_EXHAUSTED, e.getMessage());
            return;
        } catch (RuntimeException e) {
            service.quotas().release(peer.uid(), bytes);
            throw e;
        }
        List<XpfoFile> files = taken.files();
        long grantId = service.nextGrantId();
        Set<Long> inodes = new HashSet<>();
        for (XpfoFile file : files) {
            inodes.add(file.inode());
        }
        grants.put(grantId, new Holdings.Grant(grantId, peer.uid(), chunks, Set.copyOf(inodes)));
        sentCopies.put(grantId, files);
        lastGrantActivity = System.nanoTime();
        try {
            for (int first = 0; first < chunks; first += Protocol.MAX_FDS_PER_FRAME) {
                int count = Math.min(Protocol.MAX_FDS_PER_FRAME, chunks - first);
                int[] fds = new int[count];
                for (int i = 0; i < count; i++) {
                    fds[i] = files.get(first + i).fd();
                }
                Frame frame = new Messages.Chunks(grantId, chunk, chunks, first, count).frame(request);
                try {
                    socket.send(frame.encode(), fds);
                } catch (NativeCallException e) {
                    throw new AnswerNotSent(e);
                }
            }
        } finally {
            // The receiver has its own descriptors now (or, if sending failed, nobody will): keep none. Closed
            // off this thread: if the receiver already closed its copies, this close frees the memory.
            service.sentFiles().closeLater(files);
        }
        int cold = taken.populatedOnDemand();
        long nanos = System.nanoTime() - started;
        service.granted(bytes, nanos);
        // Built only if logged: formatting costs more than the rest of a warm grant's bookkeeping.
        LOG.log(System.Logger.Level.INFO, () -> "grant " + grantId + " to " + peer + ": " + Bytes.format(bytes) + " in "
                + chunks + " chunks" + (cold > 0 ? " (" + cold + " populated on demand)" : " (warm)") + " in "
                + String.format("%.2f ms", nanos / 1e6));
    }

    /**
     * Grants this user let go of count until the kernel's count confirms them gone (at the next
     * sweep, within about a second): a client that releases and asks again at once waits for that, up
     * to {@link #CONFIRM_PATIENCE}, rather than being refused.
     */
    private boolean reserveOnceConfirmed(long bytes) {
        try {
            return service.holdings().awaitConfirmed(peer.uid(), () -> service.quotas().reserve(peer.uid(), bytes),
                    CONFIRM_PATIENCE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * The grant counts against the user's quota and the stock's maximum until the kernel's count
     * confirms its memory gone ({@link Holdings}); RELEASED answers at once.
     */
    private void release(int request, Messages.Release release) {
        Holdings.Grant grant = grants.remove(release.grantId());
        if (grant == null) {
            refuse(request, ErrorCode.UNKNOWN_GRANT, "this connection holds no grant " + release.grantId());
            return;
        }
        long bytes = grant.chunks() * service.pool().chunkBytes();
        sentCopies.remove(release.grantId()).forEach(XpfoFile::close); // a no-op for those closed already
        service.holdings().release(grant);
        lastGrantActivity = System.nanoTime();
        send(new Messages.Released(release.grantId(), bytes).frame(request));
        LOG.log(System.Logger.Level.INFO, () -> "released grant " + release.grantId() + " of " + peer + ": "
                + Bytes.format(bytes));
    }

    /** The connection ended: its grants count until the kernel's count confirms them gone. */
    private void releaseAll() {
        sentCopies.values().forEach(files -> files.forEach(XpfoFile::close));
        sentCopies.clear();
        if (!grants.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, peer + " disconnected holding " + grants.size()
                    + " grants; they count against its quota until the kernel's count confirms them gone");
            grants.values().forEach(service.holdings()::detach);
        }
        grants.clear();
    }

    private void refuse(int request, ErrorCode code, String message) {
        service.refused(code);
        LOG.log(code == ErrorCode.BAD_REQUEST ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                "refused " + peer + ": " + code + ": " + message);
        try {
            send(new Messages.Error(code, message).frame(request));
        } catch (RuntimeException e) {
            // the peer is gone; nothing to tell it
        }
        if (code.closesConnection()) {
            socket.shutdown();
        }
    }

    private void send(Frame frame) {
        try {
            socket.send(frame.encode());
        } catch (NativeCallException e) {
            throw new AnswerNotSent(e);
        }
    }

    /**
     * Sending an answer failed, whatever the errno (the peer gone, its timeout, or the kernel refusing the
     * descriptors): the exchange cannot go on, so the connection ends without a word more.
     */
    private static final class AnswerNotSent extends RuntimeException {
        AnswerNotSent(NativeCallException cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /**
     * Asks the connection to end: at once if it waits for a request, after the request it is
     * answering otherwise (so a grant in flight completes).
     */
    void stop() {
        synchronized (this) {
            stopping = true;
            if (busy) {
                return;
            }
        }
        socket.shutdown();
    }
}
