// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import dev.xpfo.linux.Libc;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the service listens by default, the same rule for the service and its clients: the
 * environment variable {@code XPFO_SOCKET} if set; for root {@code /run/xpfo/xpfo.sock}; otherwise
 * {@code $XDG_RUNTIME_DIR/xpfo/xpfo.sock}, or {@code /tmp/xpfo-UID/xpfo.sock} without a runtime directory.
 */
public final class ServiceSocket {
    /** The environment variable that overrides the default path. */
    public static final String ENVIRONMENT = "XPFO_SOCKET";
    static final Path SYSTEM = Path.of("/run/xpfo/xpfo.sock");

    private ServiceSocket() {
    }

    /** Where a service run by this user listens unless told otherwise. */
    public static Path defaultPath() {
        String configured = System.getenv(ENVIRONMENT);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        int uid = currentUid();
        if (uid == 0) {
            return SYSTEM;
        }
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        if (runtime != null && !runtime.isBlank()) {
            return Path.of(runtime, "xpfo", "xpfo.sock");
        }
        return Path.of("/tmp", "xpfo-" + uid, "xpfo.sock");
    }

    /**
     * Where a client should connect unless told otherwise: this user's own service if its socket
     * exists, else the system service's ({@code /run/xpfo/xpfo.sock}) if that exists, else this
     * user's default (so the error names the path looked for).
     */
    public static Path forClient() {
        Path own = defaultPath();
        if (Files.exists(own) || System.getenv(ENVIRONMENT) != null) {
            return own;
        }
        return Files.exists(SYSTEM) ? SYSTEM : own;
    }

    /**
     * The effective user id of this process, from the kernel ({@code geteuid}): not the owner of
     * {@code /proc/self}, which is root once the process is non-dumpable (as the service is).
     */
    public static int currentUid() {
        return Libc.geteuid();
    }
}
