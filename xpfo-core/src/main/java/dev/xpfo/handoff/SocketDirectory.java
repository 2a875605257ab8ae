// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Who could put a Unix socket in a directory, or swap the directory for another: the one trust check
 * of a socket's place, for the service that listens there, the VM launcher's monitor sockets and the
 * clients that connect.
 *
 * <p>A socket's path is only as trustworthy as every directory on it. Only root and {@code owner} can
 * place or replace a socket in {@code directory} if:
 * <ul>
 *   <li>it and every directory above it is a real directory, not a symbolic link (nor a file);</li>
 *   <li>each belongs to root or {@code owner} (whoever owns a directory can change its mode);</li>
 *   <li>{@code directory} itself is not writable by group or others, sticky or not (anybody who may
 *       write there could bind a socket at the path while it is free);</li>
 *   <li>no directory above it is writable by group or others unless it is sticky, as {@code /tmp} is:
 *       in a sticky directory only an entry's owner (checked above) or root may rename or remove it, so
 *       nobody else can swap the directory below for one of their own.</li>
 * </ul>
 * A client trusting a service of another user asks the stricter {@link #othersThanRootCouldListenIn}:
 * root alone, and no directory on the way writable by group or others even if sticky (the place of
 * such a service is one root made, such as {@code /run/xpfo}; the C client checks the same).
 *
 * <p>The attributes are read without following links ({@code lstat}); one that cannot be read counts
 * against the directory.
 */
public final class SocketDirectory {
    private static final int WRITABLE_BY_GROUP_OR_OTHERS = 0022;
    private static final int STICKY = 01000;
    private static final int FILE_TYPE = 0170000;
    private static final int DIRECTORY = 0040000;
    private static final int SYMBOLIC_LINK = 0120000;

    private SocketDirectory() {
    }

    /**
     * Why somebody other than root and {@code owner} could place or replace a socket in
     * {@code directory}: the first directory on the path that lets them, with its owner and mode; empty
     * if nobody else could. What a service, or a VM's monitor, needs of the place it listens in.
     */
    public static Optional<String> othersCouldListenIn(Path directory, int owner) {
        return walk(directory, owner, true);
    }

    /**
     * Why somebody other than root could have put a socket in {@code directory}, with no sticky
     * directory allowed on the way; empty if only root could, as in {@code /run/xpfo} made by systemd.
     * What a client needs before it trusts a service run by another user.
     */
    public static Optional<String> othersThanRootCouldListenIn(Path directory) {
        return walk(directory, 0, false);
    }

    private static Optional<String> walk(Path directory, int owner, boolean stickyAbove) {
        boolean first = true;
        for (Path dir = directory.toAbsolutePath(); dir != null; dir = dir.getParent(), first = false) {
            int uid;
            int mode;
            try {
                Map<String, Object> attributes = Files.readAttributes(dir, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
                uid = (Integer) attributes.get("uid");
                mode = (Integer) attributes.get("mode");
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                return Optional.of("the owner and mode of " + dir + " cannot be read (" + e + ")");
            }
            if ((mode & FILE_TYPE) == SYMBOLIC_LINK) {
                return Optional.of(dir + " is a symbolic link");
            }
            if ((mode & FILE_TYPE) != DIRECTORY) {
                return Optional.of(dir + " is not a directory");
            }
            String described = dir + " (owner uid " + uid + ", mode " + String.format("%04o", mode & 07777) + ")";
            if (uid != 0 && uid != owner) {
                return Optional.of(described + " belongs to another user");
            }
            boolean excused = !first && stickyAbove && (mode & STICKY) != 0;
            if ((mode & WRITABLE_BY_GROUP_OR_OTHERS) != 0 && !excused) {
                return Optional.of(described + " is writable by " + ((mode & 0002) != 0 ? "other users" : "its group")
                        + (first || !stickyAbove ? "" : " and not sticky"));
            }
        }
        return Optional.empty();
    }
}
