// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service closes its own copies of a grant's files off the connection's thread; by the time a
 * RELEASE is answered, or the connection has ended, it holds none of them (so a scan never finds the
 * service itself holding a grant its client let go of).
 */
class SentCopiesTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void afterReleasedTheServiceHoldsNoneOfTheGrantsFiles() {
        try (Service service = Services.started(Services.small(dir));
             UnixSocket socket = UnixSocket.connect(dir.resolve("xpfo.sock"))) {
            FrameReader reader = new FrameReader(socket, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            socket.send(new Messages.Hello(1, 1).frame(0).encode());
            Messages.Welcome.decode(reader.next());
            for (int request = 1; request < 40; request += 2) {
                socket.send(new Messages.Grant(4 * Services.CHUNK, Protocol.GRANT_WARM_ONLY).frame(request).encode());
                Frame frame = reader.next();
                long grant = Messages.Chunks.decode(frame).grantId();
                Set<Long> inodes = new HashSet<>();
                for (int fd : frame.fds()) {
                    inodes.add(inode(Path.of("/proc/self/fd/" + fd)));
                }
                frame.closeFds(); // the receiver lets go at once: the service's copies are the last
                socket.send(new Messages.Release(grant).frame(request + 1).encode());
                Messages.Released.decode(reader.next());
                assertThat(openSecretMemoryInodes()).as("grant %d", grant).doesNotContainAnyElementsOf(inodes);
                service.pool().warm((done, total) -> { });
            }
        }
    }

    private static Set<Long> openSecretMemoryInodes() {
        Set<Long> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            List<Path> all = new ArrayList<>(fds.toList());
            for (Path fd : all) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith("/secretmem")) {
                        inodes.add(inode(fd));
                    }
                } catch (IOException | UncheckedIOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return inodes;
    }

    private static long inode(Path fd) {
        try {
            return ((Number) Files.getAttribute(fd, "unix:ino")).longValue();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
