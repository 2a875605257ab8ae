// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.handoff.SocketDirectory;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoException;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The service's listening socket: inherited from systemd ({@code LISTEN_PID}/{@code LISTEN_FDS},
 * descriptor 3) or bound here, with the configured mode and group. Binding never deletes anything but
 * a socket that nobody answers on (one left by a service that died): a socket that answers, a regular
 * file, a directory or a symbolic link at the path is refused and kept. Closing removes the socket file
 * and the directories that opening created, and nothing else.
 */
final class Listener implements AutoCloseable {
    private static final int SYSTEMD_FIRST_FD = 3;
    /** How often a waiting accept looks at whether the service is stopping. */
    private static final Duration ACCEPT_TICK = Duration.ofMillis(200);

    /** {@code S_IFMT} and {@code S_IFSOCK} of {@code st_mode}. */
    private static final int FILE_TYPE = 0170000;
    private static final int SOCKET_TYPE = 0140000;

    private final UnixSocket socket;
    private final Optional<Path> ownedPath;
    /** Directories opening created, deepest first: removed on close if still empty. */
    private final List<Path> createdDirectories;
    private final String description;

    private Listener(UnixSocket socket, Optional<Path> ownedPath, List<Path> createdDirectories, String description) {
        socket.timeouts(ACCEPT_TICK, ACCEPT_TICK);
        this.socket = socket;
        this.ownedPath = ownedPath;
        this.createdDirectories = createdDirectories;
        this.description = description;
    }

    static Listener open(ServiceSettings settings) {
        String listenPid = System.getenv("LISTEN_PID");
        String listenFds = System.getenv("LISTEN_FDS");
        if (listenPid != null && listenFds != null && listenPid.equals(Long.toString(ProcessHandle.current().pid()))
                && Integer.parseInt(listenFds) >= 1) {
            return new Listener(UnixSocket.adopt(SYSTEMD_FIRST_FD), Optional.empty(), List.of(),
                    "the socket systemd passed (descriptor 3; its mode and group are the socket unit's)");
        }
        Path path = settings.socket().toAbsolutePath();
        List<Path> created = new ArrayList<>();
        try {
            Path directory = path.getParent();
            // Others need to pass through only if the socket lets them in.
            createDirectories(directory, (settings.socketMode() & 0077) != 0 ? "rwxr-xr-x" : "rwx------", created);
            requireSafe(directory);
            removeStale(path);
            UnixSocket socket = UnixSocket.listen(path);
            try {
                // Group first, then mode: widening the mode first would let the old group in for a moment.
                if (settings.socketGroup().isPresent()) {
                    GroupPrincipal group = FileSystems.getDefault().getUserPrincipalLookupService()
                            .lookupPrincipalByGroupName(settings.socketGroup().get());
                    Files.setAttribute(path, "posix:group", group);
                }
                Files.setPosixFilePermissions(path, permissions(settings.socketMode()));
            } catch (IOException | RuntimeException e) {
                socket.close();
                Files.deleteIfExists(path);
                throw e;
            }
            return new Listener(socket, Optional.of(path), List.copyOf(created), path + " (mode "
                    + String.format("%04o", settings.socketMode())
                    + settings.socketGroup().map(g -> ", group " + g).orElse("") + ")");
        } catch (IOException | RuntimeException e) {
            removeEmpty(created);
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new XpfoException("could not set up the socket " + path + ": " + e, e);
        }
    }

    /**
     * Creates {@code directory} and whichever of its parents are missing, one at a time, recording each
     * one made (deepest first) so that closing removes exactly those.
     */
    private static void createDirectories(Path directory, String mode, List<Path> created) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path d = directory; d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS); d = d.getParent()) {
            missing.addFirst(d);
        }
        for (Path d : missing) {
            try {
                Files.createDirectory(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
                created.addFirst(d);
            } catch (FileAlreadyExistsException e) {
                // made by somebody else meanwhile: theirs, not ours to remove; requireSafe judges it
            }
        }
    }

    /** Removes directories this listener made, deepest first, leaving any that something else now fills. */
    private static void removeEmpty(List<Path> directories) {
        for (Path d : directories) {
            try {
                Files.deleteIfExists(d);
            } catch (IOException e) {
                return; // not empty (or not ours to remove any more): its parents are not empty either
            }
        }
    }

    /**
     * Only this user and root may be able to place a socket in the directory or swap the directory
     * ({@link SocketDirectory}): otherwise somebody else could replace the socket with one of their own
     * and receive what clients meant for this service.
     */
    private static void requireSafe(Path directory) {
        SocketDirectory.othersCouldListenIn(directory, ServiceSocket.currentUid()).ifPresent(why -> {
            throw new XpfoException("refusing to listen in " + directory + ": " + why + "; it and every directory "
                    + "above it must belong to this user or root and not be writable by group or others (above it, "
                    + "sticky ones such as /tmp are fine), or another user could stand in for the service");
        });
    }

    /**
     * A socket file left by a service that died is removed; one that still answers is not, and anything
     * that is not a socket (looked at without following a symbolic link) is somebody's data: refused.
     */
    private static void removeStale(Path path) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if ((mode & FILE_TYPE) != SOCKET_TYPE) {
            throw new XpfoException("refusing to listen on " + path + ": " + kind(path) + " is there, not a socket "
                    + "left by a stopped service; it was left as it is. Move it away, or pass --socket to listen elsewhere");
        }
        boolean inUse;
        try {
            inUse = UnixSocket.answers(path);
        } catch (NativeCallException e) {
            throw new XpfoException("cannot tell whether " + path + " is in use: " + e.getMessage(), e);
        }
        if (inUse) {
            throw new XpfoException("another service is already listening on " + path
                    + ": stop it first, or pass --socket to listen elsewhere");
        }
        Files.deleteIfExists(path);
    }

    private static String kind(Path path) {
        if (Files.isSymbolicLink(path)) {
            return "a symbolic link";
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            return "a directory";
        }
        if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
            return "a regular file";
        }
        return "a device, pipe or other special file";
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = {
                PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
                PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int bit = 0; bit < bits.length; bit++) {
            if ((mode & (1 << bit)) != 0) {
                set.add(bits[bit]);
            }
        }
        return set;
    }

    /**
     * The next connection, or {@code null} after a short wait without one ({@link #wake} ends the wait
     * at once on a socket the service made).
     */
    UnixSocket accept() {
        return socket.accept();
    }

    /**
     * Ends an {@link #accept} waiting in another thread (it fails at once, the kernel returning
     * {@code EINVAL} for a listening socket shut down), so stopping need not wait for the accept tick.
     * Only a socket the service made: under socket activation the socket is systemd's, and must keep
     * working for the next start, so there a waiting accept returns at its next tick.
     */
    void wake() {
        if (ownedPath.isPresent()) {
            socket.shutdown();
        }
    }

    /** Where clients connect, for people. */
    String description() {
        return description;
    }

    @Override
    public void close() {
        socket.close();
        ownedPath.ifPresent(path -> {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // left behind: the next start finds it stale and removes it
            }
        });
        removeEmpty(createdDirectories);
    }
}
