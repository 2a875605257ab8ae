// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.client.XpfoClient;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The {@code --socket} option of the commands that talk to a running service, and the connection it names. */
final class ServiceConnection {
    @Option(names = "--socket", paramLabel = "PATH", description = "The service's socket (default: $XPFO_SOCKET, this "
            + "user's own service's, else /run/xpfo/xpfo.sock).")
    Path socket;

    XpfoClient connect() {
        return XpfoClient.connect(path());
    }

    /** The socket: as given, else where this user's clients look. */
    Path path() {
        return socket != null ? socket : ServiceSocket.forClient();
    }
}
