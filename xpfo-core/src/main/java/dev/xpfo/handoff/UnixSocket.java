// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import dev.xpfo.linux.Descriptor;
import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.CallTimedOutException;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.NativeErrors;
import dev.xpfo.memory.NotListeningException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.memory.XpfoException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A Unix stream socket that can carry file descriptors ({@code SCM_RIGHTS}): how secret memory files
 * reach another process, since they cannot be reopened by path. The JDK's own Unix-domain channels
 * cannot pass descriptors, hence this class.
 *
 * <p>A socket is used by one thread at a time; {@link #close()} and {@link #shutdown()} may come from
 * any thread. Each call holds the descriptor (a {@link Descriptor} state word) while it runs, so a
 * close from another thread never frees the number under it: a call after the close throws
 * {@link XpfoClosedException}, and a call in flight ends first (woken by {@code shutdown(2)} on a
 * connected socket) and the descriptor is closed when it returns.
 */
public final class UnixSocket implements AutoCloseable {
    /** The most descriptors one message carries; the kernel's own cap is 253 ({@code SCM_MAX_FD}). */
    public static final int MAX_FDS = 253;

    private final Descriptor descriptor;
    /**
     * Whether close wakes calls in flight with {@code shutdown(2)}: only on connected sockets this
     * process made. A listening socket may be shared (systemd's, under socket activation), and shutting
     * it down would stop it for every holder; its accept returns at its next timeout instead.
     */
    private final boolean wakeOnClose;

    private UnixSocket(int fd, boolean wakeOnClose) {
        this.descriptor = new Descriptor(fd, "Unix socket");
        this.wakeOnClose = wakeOnClose;
    }

    /**
     * Binds and listens on {@code path}, which must not exist yet. The socket file is created with mode
     * {@code 0600} (the process's umask is narrowed for the {@code bind}), so nobody else can connect
     * before the caller widens it.
     */
    public static UnixSocket listen(Path path) {
        return openAt(path, false, (fd, address) -> {
            int bound;
            int errno;
            synchronized (UnixSocket.class) {
                int previous = Libc.umask(0177);
                bound = Libc.bind(fd, address, (int) Libc.SOCKADDR_UN_SIZE);
                errno = Libc.errno();
                Libc.umask(previous);
            }
            if (bound != 0) {
                throw failure("bind", errno, "could not bind " + path);
            }
            if (Libc.listen(fd, 128) != 0) {
                throw failure("listen", Libc.errno(), "could not listen on " + path);
            }
        });
    }

    /** Connects to a listening socket at {@code path}. */
    public static UnixSocket connect(Path path) {
        return openAt(path, true, (fd, address) -> {
            if (Libc.connect(fd, address, (int) Libc.SOCKADDR_UN_SIZE) != 0) {
                throw failure("connect", Libc.errno(), "could not connect to " + path);
            }
        });
    }

    /**
     * Whether something listens at {@code path}: false if nothing is there or the socket file is left
     * over from a process that is gone ({@code ENOENT}, {@code ECONNREFUSED}).
     *
     * @throws NativeCallException for any other failure ({@code EACCES}: not allowed to tell)
     */
    public static boolean answers(Path path) {
        try (UnixSocket probe = connect(path)) {
            return true;
        } catch (NotListeningException e) {
            return false;
        }
    }

    /** What to do with a new socket and the address of {@code path}; throws to fail. */
    private interface AddressUse {
        void apply(int fd, MemorySegment address);
    }

    private static UnixSocket openAt(Path path, boolean connected, AddressUse use) {
        UnixSocket socket = open(connected);
        try (Arena arena = Arena.ofConfined()) {
            int fd = socket.descriptor.acquire();
            try {
                use.apply(fd, socketAddress(arena, path));
            } finally {
                socket.descriptor.release();
            }
            return socket;
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Takes ownership of a socket this process inherited, such as a listening socket passed by systemd
     * socket activation (descriptor 3 and up, {@code LISTEN_FDS}). Other processes may hold the same
     * socket, so {@link #close()} never shuts it down.
     */
    public static UnixSocket adopt(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        return new UnixSocket(fd, false);
    }

    /** The connected peer's process, user and group, as the kernel recorded them at connect time. */
    public record PeerCredentials(int pid, int uid, int gid) {
        @Override
        public String toString() {
            return "pid " + pid + " uid " + uid + " gid " + gid;
        }
    }

    /** The peer's credentials ({@code SO_PEERCRED}): trustworthy, unlike anything the peer says. */
    public PeerCredentials peerCredentials() {
        int fd = descriptor.acquire();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment credentials = arena.allocate(12, 4);
            MemorySegment length = arena.allocateFrom(JAVA_INT, 12);
            if (Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_PEERCRED, credentials, length) != 0) {
                throw failure("getsockopt(SO_PEERCRED)", Libc.errno(), "could not read the peer's credentials");
            }
            return new PeerCredentials(credentials.get(JAVA_INT, 0), credentials.get(JAVA_INT, 4),
                    credentials.get(JAVA_INT, 8));
        } finally {
            descriptor.release();
        }
    }

    /**
     * Limits how long one {@link #receive} or {@link #send} may block ({@code SO_RCVTIMEO},
     * {@code SO_SNDTIMEO}); past it they throw {@link CallTimedOutException} ({@code EAGAIN}).
     */
    public void timeouts(Duration receive, Duration send) {
        int fd = descriptor.acquire();
        try {
            setTimeout(fd, Libc.SO_RCVTIMEO, receive);
            setTimeout(fd, Libc.SO_SNDTIMEO, send);
        } finally {
            descriptor.release();
        }
    }

    private static void setTimeout(int fd, int option, Duration timeout) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(JAVA_LONG, 0, timeout.toSeconds());
            timeval.set(JAVA_LONG, 8, timeout.toMillisPart() * 1000L);
            if (Libc.setsockopt(fd, Libc.SOL_SOCKET, option, timeval, 16) != 0) {
                throw failure("setsockopt", Libc.errno(), "could not set a socket timeout");
            }
        }
    }

    /**
     * Shuts the socket down in both directions: a thread blocked in {@link #receive} or
     * {@link #accept} on it returns (end of stream, or an error for a listening socket). The
     * descriptor stays open until {@link #close()}. Does nothing after {@link #close()}.
     */
    public void shutdown() {
        // A reference, not a check: never shut down a number that was closed and reused meanwhile.
        int fd = descriptor.tryAcquire();
        if (fd < 0) {
            return;
        }
        try {
            Libc.shutdown(fd, Libc.SHUT_RDWR);
        } finally {
            descriptor.release();
        }
    }

    /**
     * Waits for the next connection on a listening socket; {@code null} if a receive timeout set with
     * {@link #timeouts} passed first ({@code SO_RCVTIMEO} bounds {@code accept} too).
     */
    public UnixSocket accept() {
        int fd = descriptor.acquire();
        int client;
        int errno;
        try {
            do {
                client = Libc.accept4(fd, MemorySegment.NULL, MemorySegment.NULL, Libc.SOCK_CLOEXEC);
                errno = Libc.errno();
            } while (client < 0 && errno == Errno.EINTR);
        } finally {
            descriptor.release();
        }
        if (client < 0) {
            NativeCallException failure = failure("accept4", errno, "could not accept a connection");
            if (failure instanceof CallTimedOutException) {
                return null;
            }
            throw failure;
        }
        return new UnixSocket(client, true);
    }

    private static UnixSocket open(boolean connected) {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw failure("socket", Libc.errno(), "could not create a Unix socket");
        }
        return new UnixSocket(fd, connected);
    }

    private static MemorySegment socketAddress(Arena arena, Path path) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= Libc.SUN_PATH_MAX) {
            throw new XpfoException("socket path too long for a Unix socket (" + name.length + " bytes, at most "
                    + (Libc.SUN_PATH_MAX - 1) + "): " + path);
        }
        MemorySegment address = arena.allocate(Libc.SOCKADDR_UN_SIZE, 2);
        address.set(JAVA_SHORT, 0, (short) Libc.AF_UNIX);
        MemorySegment.copy(name, 0, address, JAVA_BYTE, 2, name.length);
        return address;
    }

    /**
     * Sends {@code data} (at least one byte: the kernel drops descriptors sent with no data) and, with
     * it, {@code fds}. The descriptors stay open here; the receiver gets its own copies.
     *
     * @throws XpfoClosedException after {@link #close()}, or if a close from another thread shut the
     *                             socket down while this was sending
     * @throws NativeCallException {@code EPIPE} (the peer is gone), {@link CallTimedOutException} (the send
     *                             timeout passed)
     */
    public void send(byte[] data, int... fds) {
        if (data.length == 0 || fds.length > MAX_FDS) {
            throw new IllegalArgumentException("send needs 1+ bytes and at most " + MAX_FDS + " descriptors");
        }
        int fd = descriptor.acquire();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment payload = arena.allocateFrom(JAVA_BYTE, data);
            MemorySegment iov = arena.allocate(Libc.IOVEC);
            iov.set(ADDRESS, 0, payload);
            iov.set(JAVA_LONG, 8, data.length);
            MemorySegment message = arena.allocate(Libc.MSGHDR);
            message.set(ADDRESS, 16, iov);
            message.set(JAVA_LONG, 24, 1);
            if (fds.length > 0) {
                long space = controlSpace(fds.length);
                MemorySegment control = arena.allocate(space, 8);
                control.set(JAVA_LONG, 0, Libc.CMSG_HEADER + 4L * fds.length);
                control.set(JAVA_INT, 8, Libc.SOL_SOCKET);
                control.set(JAVA_INT, 12, Libc.SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.set(JAVA_INT, Libc.CMSG_HEADER + 4L * i, fds[i]);
                }
                message.set(ADDRESS, 32, control);
                message.set(JAVA_LONG, 40, space);
            }
            long sent = 0;
            while (sent < data.length) {
                long n = Libc.sendmsg(fd, message, Libc.MSG_NOSIGNAL);
                if (n < 0) {
                    int errno = Libc.errno();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    if (descriptor.isClosed()) {
                        throw new XpfoClosedException("Unix socket"); // shut down by close() while sending
                    }
                    throw failure("sendmsg", errno, "could not send " + data.length + " bytes");
                }
                sent += n;
                // Descriptors travel with the first byte; the rest of the data goes plainly.
                message.set(ADDRESS, 32, MemorySegment.NULL);
                message.set(JAVA_LONG, 40, 0);
                iov.set(ADDRESS, 0, payload.asSlice(sent));
                iov.set(JAVA_LONG, 8, data.length - sent);
            }
        } finally {
            descriptor.release();
        }
    }

    /** What one {@link #receive} returned: the bytes read (empty at end of stream) and any descriptors. */
    public record Received(byte[] data, int[] fds) {
        /** True if the peer closed the connection. */
        public boolean endOfStream() {
            return data.length == 0;
        }
    }

    /**
     * Receives up to {@code maxBytes} bytes and up to {@code maxFds} descriptors (close-on-exec). If the
     * peer sent more descriptors than that, the kernel discards the extra ones and this throws.
     *
     * @throws XpfoClosedException after {@link #close()}, or if a close from another thread shut the
     *                             socket down while this was receiving with an error (a close while it
     *                             waits for data returns end of stream)
     * @throws NativeCallException {@link CallTimedOutException} (the receive timeout passed) and other failures
     */
    public Received receive(int maxBytes, int maxFds) {
        int fd = descriptor.acquire();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(1, maxBytes));
            MemorySegment iov = arena.allocate(Libc.IOVEC);
            iov.set(ADDRESS, 0, buffer);
            iov.set(JAVA_LONG, 8, maxBytes);
            MemorySegment message = arena.allocate(Libc.MSGHDR);
            message.set(ADDRESS, 16, iov);
            message.set(JAVA_LONG, 24, 1);
            long space = controlSpace(Math.max(1, maxFds));
            MemorySegment control = arena.allocate(space, 8);
            message.set(ADDRESS, 32, control);
            message.set(JAVA_LONG, 40, space);
            long n;
            do {
                n = Libc.recvmsg(fd, message, Libc.MSG_CMSG_CLOEXEC);
            } while (n < 0 && Libc.errno() == Errno.EINTR);
            if (n < 0) {
                int errno = Libc.errno();
                if (descriptor.isClosed()) {
                    throw new XpfoClosedException("Unix socket"); // shut down by close() while receiving
                }
                throw failure("recvmsg", errno, "could not receive");
            }
            int[] fds = descriptors(message, control);
            if ((message.get(JAVA_INT, 48) & Libc.MSG_CTRUNC) != 0) {
                for (int received : fds) {
                    Libc.close(received);
                }
                throw new XpfoException("descriptors truncated: the peer sent more than the " + maxFds
                        + " expected, or this process is at its descriptor limit (ulimit -n); closed what arrived");
            }
            return new Received(buffer.asSlice(0, n).toArray(JAVA_BYTE), fds);
        } finally {
            descriptor.release();
        }
    }

    private static int[] descriptors(MemorySegment message, MemorySegment control) {
        long controlLength = message.get(JAVA_LONG, 40);
        int[] fds = new int[0];
        long offset = 0;
        while (offset + Libc.CMSG_HEADER <= controlLength) {
            long length = control.get(JAVA_LONG, offset);
            if (length < Libc.CMSG_HEADER) {
                break;
            }
            if (control.get(JAVA_INT, offset + 8) == Libc.SOL_SOCKET && control.get(JAVA_INT, offset + 12) == Libc.SCM_RIGHTS) {
                int count = (int) ((length - Libc.CMSG_HEADER) / 4);
                int start = fds.length;
                fds = Arrays.copyOf(fds, start + count);
                for (int i = 0; i < count; i++) {
                    fds[start + i] = control.get(JAVA_INT, offset + Libc.CMSG_HEADER + 4L * i);
                }
            }
            offset += (length + 7) & ~7L;
        }
        return fds;
    }

    private static long controlSpace(int fds) {
        return Libc.CMSG_HEADER + ((4L * fds + 7) & ~7L);
    }

    /** The exception for a failed socket call: {@link NativeErrors} decides its type (peer gone, timed out, ...). */
    private static NativeCallException failure(String call, int errno, String what) {
        return NativeErrors.socket(call, errno, what);
    }

    /**
     * Closes the socket (a listening socket's path is left for the caller to remove). Idempotent. A call
     * in flight on another thread keeps the descriptor until it returns: on a connected socket this
     * shuts the socket down first so that a blocked {@link #receive} or {@link #send} returns at once;
     * on a listening or adopted one, an {@link #accept} returns at its timeout or next connection.
     */
    @Override
    public void close() {
        if (wakeOnClose) {
            descriptor.close(fd -> Libc.shutdown(fd, Libc.SHUT_RDWR));
        } else {
            descriptor.close();
        }
    }
}
