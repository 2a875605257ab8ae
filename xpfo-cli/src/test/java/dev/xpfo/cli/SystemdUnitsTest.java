package dev.xpfo.cli;

import dev.xpfo.service.testing.Services;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.ServiceSocket;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The systemd units under deploy/systemd: valid, and socket activation hands the service its socket. */
class SystemdUnitsTest {
    private static final Path UNITS = CClient.sources().getParent().getParent().resolve("deploy/systemd");

    @TempDir
    Path dir;

    private static boolean installed(String tool) {
        return Files.isExecutable(Path.of("/usr/bin", tool)) || Files.isExecutable(Path.of("/bin", tool));
    }

    @Test
    void unitsPassSystemdAnalyzeVerifyWithoutWarnings() throws Exception {
        assumeTrue(installed("systemd-analyze"), "skipped: systemd-analyze is not installed");
        Path launcher = UNITS.getParent().getParent().resolve("xpfo");
        Files.writeString(dir.resolve("xpfo.service"), Files.readString(UNITS.resolve("xpfo.service"))
                .replace("/opt/xpfo/xpfo", launcher.toString()));
        Files.copy(UNITS.resolve("xpfo.socket"), dir.resolve("xpfo.socket"));
        CClient.Result verified = CClient.run(List.of("systemd-analyze", "verify",
                dir.resolve("xpfo.socket").toString(), dir.resolve("xpfo.service").toString()));
        assertThat(verified.exitCode()).isZero();
        assertThat(verified.output()).isEmpty();
    }

    @Test
    void theSocketUnitListensWhereClientsLookAndTheServiceHasWhatItNeeds() throws Exception {
        String socket = Files.readString(UNITS.resolve("xpfo.socket"));
        String service = Files.readString(UNITS.resolve("xpfo.service"));
        assertThat(socket).contains("ListenStream=" + Path.of("/run/xpfo/xpfo.sock")).contains("SocketMode=0660");
        assertThat(ServiceSocket.defaultPath().toString()).satisfiesAnyOf(
                path -> assertThat(TestJvm.isRoot()).isFalse(),
                path -> assertThat(path).isIn("/run/xpfo/xpfo.sock", System.getenv(ServiceSocket.ENVIRONMENT)));
        assertThat(service).contains("ExecStart=/opt/xpfo/xpfo serve").contains("LimitMEMLOCK=infinity")
                .contains("SuccessExitStatus=143").contains("MemoryAccounting=yes");
    }

    @Test
    void underSocketActivationTheServiceServesOnTheSocketItWasGiven() throws Exception {
        SecretMemory.assumeAvailable();
        assumeTrue(installed("systemd-socket-activate"), "skipped: systemd-socket-activate is not installed");
        Path socket = dir.resolve("activated.sock");
        List<String> command = new ArrayList<>(List.of("systemd-socket-activate", "-l", socket.toString()));
        command.addAll(TestJvm.command(Main.class, "serve", "--target", "4M", "--socket", dir.resolve("unused.sock").toString()));
        Path log = dir.resolve("service.log");
        Process activator = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // systemd-socket-activate starts the service on the first connection, as systemd does.
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> Files.exists(socket))).isTrue();
            try (XpfoClient client = XpfoClient.connect(socket); GrantedMemory memory = client.grant(2L << 20)) {
                memory.segment().fill((byte) 3);
                assertThat(client.status()).contains("the socket systemd passed");
            }
            assertThat(dir.resolve("unused.sock")).doesNotExist();
        } finally {
            activator.toHandle().destroy();
            activator.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(Files.readString(log)).contains("listening on the socket systemd passed").contains("stopped");
    }
}
