// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Whoever made a granted file can read what is written into it, so the clients refuse a "service"
 * that another user set up where anybody may put a socket, and the service refuses such a place.
 */
class ClientTrustTest {
    @TempDir
    Path dir;

    @Test
    void bothClientsRefuseAServiceOfAnotherUserInADirectoryOthersCanWrite() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: needs root to listen as another user");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/systemd-socket-activate")), "skipped: no systemd-socket-activate");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path theirs = Files.createDirectory(dir.resolve("theirs"));
        CClient.run(List.of("chown", "65534:65534", theirs.toString()));
        Path socket = theirs.resolve("xpfo.sock");
        // uid 65534 listens (as an impostor would); /tmp above it is writable by everybody.
        Process impostor = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "systemd-socket-activate", "-l", socket.toString(), "sleep", "30").redirectErrorStream(true).start();
        try {
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> Files.exists(socket))).isTrue();
            assertThatThrownBy(() -> XpfoClient.connect(socket)).hasMessageContaining("refusing the service")
                    .hasMessageContaining("runs as uid 65534");
            CClient.Result c = CClient.example(0, "--socket", socket.toString(), "--size", "2097152");
            assertThat(c.exitCode()).isEqualTo(2);
            assertThat(c.output()).contains("refusing the service").contains("uid 65534");
        } finally {
            impostor.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            impostor.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theServiceRefusesToListenInADirectoryOthersCanWrite() throws Exception {
        Path open = Files.createDirectory(dir.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> Service.start(Services.small(open))).hasMessageContaining("refusing to listen in")
                .hasMessageContaining("0777");
        assertThat(UnixSocket.answers(open.resolve("xpfo.sock"))).isFalse();
    }

    /**
     * Only the clients looked above the socket's directory; the service now does too: anybody can rename
     * a private directory out of a parent they may write to (one that is not sticky) and put theirs there.
     */
    @Test
    void theServiceRefusesToListenBelowADirectoryOthersCanWriteToUnlessItIsSticky() throws Exception {
        Path open = Files.createDirectory(dir.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path below = Files.createDirectory(open.resolve("below"));
        Files.setPosixFilePermissions(below, PosixFilePermissions.fromString("rwx------"));
        assertThatThrownBy(() -> Service.start(Services.small(below))).hasMessageContaining("refusing to listen in " + below)
                .hasMessageContaining(open + " (owner uid " + ServiceSocket.currentUid() + ", mode 0777) is writable by "
                        + "other users and not sticky");
        assertThat(UnixSocket.answers(below.resolve("xpfo.sock"))).isFalse();
    }
}
