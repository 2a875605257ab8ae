// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code xpfo serve} against a process of its own user: the ready stock's descriptors cannot be copied
 * out of it ({@code pidfd_getfd(2)}), nor can it be traced. Both run as uid 65534, so the test needs
 * root to set that up.
 */
class NonDumpableServiceTest {

    @BeforeAll
    static void rootAndSecretMemory() {
        SecretMemory.assumeAvailable();
        assumeTrue(TestJvm.isRoot(), "skipped: running the service and the attacker as uid 65534 takes root");
    }

    @Test
    void aProcessOfTheServicesUserCannotCopyTheReadyStockOrTraceTheService() throws Exception {
        Path attacker = CClient.program("take_descriptors");
        Path base = Files.createTempDirectory("xpfo-nondumpable", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        Path run = base.resolve("run");
        Files.createDirectory(run);
        Files.setAttribute(run, "unix:uid", TestJvm.NOBODY);
        Files.setAttribute(run, "unix:gid", TestJvm.NOBODY);
        Path socket = run.resolve("xpfo.sock");
        Path classes = Files.createDirectory(base.resolve("classes"));
        Process service = TestJvm.startUnprivileged(classes, 8L << 20, Main.class, "serve", "--socket", socket.toString(),
                "--target", "4M", "--maximum", "8M", "--threads", "1");
        StringBuffer printed = new StringBuffer();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                printed.append(new String(service.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                printed.append(e);
            }
        });
        try {
            long pid = service.pid();
            boolean warm = Services.eventually(Duration.ofSeconds(60), () -> service.isAlive() && answers(socket)
                    && stock(pid).size() >= 2);
            if (!warm) {
                service.destroyForcibly().waitFor();
                reader.join();
            }
            assertThat(warm).as("service up with its stock: %s", printed).isTrue();
            // /proc/PID belongs to root once the process is non-dumpable; its status says who it runs as.
            assertThat(Files.readString(Path.of("/proc/" + pid + "/status"))).containsPattern("Uid:\\s+65534\\s");

            List<Integer> stock = stock(pid);
            List<String> command = new ArrayList<>(List.of(attacker.toString(), Long.toString(pid)));
            stock.forEach(fd -> command.add(Integer.toString(fd)));
            CClient.Result attempt = CClient.run(CClient.as(TestJvm.NOBODY, command.toArray(String[]::new)));

            assertThat(attempt.output()).doesNotContain("taken").doesNotContain("attached")
                    .contains("ptrace: refused EPERM");
            for (int fd : stock) {
                assertThat(attempt.output()).contains("fd " + fd + ": refused EPERM");
            }
            assertThat(attempt.exitCode()).as(attempt.output()).isZero();
        } finally {
            service.destroy();
            if (!service.waitFor(30, TimeUnit.SECONDS)) {
                service.destroyForcibly().waitFor();
            }
            try (Stream<Path> walk = Files.walk(base)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static boolean answers(Path socket) {
        try {
            return Services.answers(socket);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The service's descriptors that are secret memory files (read as root, which may look). */
    private static List<Integer> stock(long pid) {
        List<Integer> fds = new ArrayList<>();
        try (Stream<Path> entries = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                try {
                    if (Files.readSymbolicLink(entry).toString().equals("/secretmem (deleted)")) {
                        fds.add(Integer.parseInt(entry.getFileName().toString()));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            return List.of(); // not started yet, or gone
        }
        return fds;
    }
}
