// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.ServiceSocket;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    void theServiceRunsAsUserXpfoAndOnlyUserAndGroupXpfoMayConnect() throws Exception {
        Map<String, String> socket = settings(UNITS.resolve("xpfo.socket"), "Socket");
        Map<String, String> service = settings(UNITS.resolve("xpfo.service"), "Service");
        assertThat(service).containsEntry("User", "xpfo").containsEntry("Group", "xpfo");
        // The socket: owned by the service's user, connectable by group xpfo only (connect(2) needs write
        // permission), in a directory anybody may enter.
        assertThat(socket).containsEntry("ListenStream", "/run/xpfo/xpfo.sock").containsEntry("SocketUser", "xpfo")
                .containsEntry("SocketGroup", "xpfo").containsEntry("SocketMode", "0660")
                .containsEntry("DirectoryMode", "0755").containsEntry("Accept", "no");
        // systemd-sysusers makes that user, with a group of the same name, and no login.
        assertThat(Files.readAllLines(UNITS.resolve("xpfo.sysusers")))
                .contains("u xpfo - \"xpfo service\" /nonexistent /usr/sbin/nologin");
        assertThat(service).containsEntry("ExecStart", "/opt/xpfo/xpfo serve --target 1G")
                .containsEntry("LimitMEMLOCK", "infinity").containsEntry("SuccessExitStatus", "143")
                .containsEntry("MemoryAccounting", "yes");
    }

    @Test
    void theSocketUnitListensWhereARootClientLooks() throws Exception {
        // Root's clients look only at the system service's socket; other users' look there once their own is absent.
        assumeTrue(TestJvm.isRoot(), "skipped: only a root client's default path is the system socket");
        assumeTrue(System.getenv(ServiceSocket.ENVIRONMENT) == null, "skipped: " + ServiceSocket.ENVIRONMENT + " is set");
        assertThat(ServiceSocket.defaultPath().toString())
                .isEqualTo(settings(UNITS.resolve("xpfo.socket"), "Socket").get("ListenStream"));
    }

    /** The {@code key=value} lines of {@code [section]} of a unit file. */
    private static Map<String, String> settings(Path unit, String section) throws Exception {
        Map<String, String> settings = new java.util.HashMap<>();
        String current = "";
        for (String line : Files.readAllLines(unit)) {
            if (line.startsWith("[")) {
                current = line.substring(1, line.indexOf(']'));
            } else if (current.equals(section) && !line.startsWith("#") && line.contains("=")) {
                settings.put(line.substring(0, line.indexOf('=')).trim(), line.substring(line.indexOf('=') + 1).trim());
            }
        }
        return settings;
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
