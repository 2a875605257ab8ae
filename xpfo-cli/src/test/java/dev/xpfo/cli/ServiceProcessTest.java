// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.ServiceException;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.host.Smaps;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.service.Service;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The service as its own process, with clients in others: what the deployment looks like. */
class ServiceProcessTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    /** Starts {@code xpfo serve} in a child JVM and waits until it answers on its socket. */
    private Process serve(Path socket, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--socket", socket.toString(), "--target", "16M"));
        args.addAll(List.of(options));
        Process service = TestJvm.start(Main.class, args.toArray(String[]::new));
        boolean up = Services.eventually(Duration.ofSeconds(30), () -> {
            try {
                return service.isAlive() && Services.answers(socket);
            } catch (RuntimeException e) {
                return false;
            }
        });
        if (!up) {
            service.destroyForcibly();
            throw new AssertionError("service did not start: " + new String(service.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        }
        return service;
    }

    @Test
    void aClientProcessWritesGrantedMemoryThatAThirdProcessCannotRead() throws Exception {
        Path socket = dir.resolve("xpfo.sock");
        Process service = serve(socket);
        Process client = null;
        try {
            String marker = "xpfo-marker-" + HexFormat.of().formatHex(java.security.SecureRandom.getSeed(8));
            client = new ProcessBuilder(CClient.example().toString(), "--socket", socket.toString(), "--size",
                    Long.toString(4L << 20), "--marker", marker, "--hold", "60").redirectErrorStream(true).start();
            String line = Child.watch(client).nextLine(Duration.ofSeconds(60));
            assertThat(line).startsWith("pid=");
            Map<String, String> fields = Pattern.compile(" ").splitAsStream(line)
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            long pid = Long.parseLong(fields.get("pid"));
            long granted = Long.decode(fields.get("addr"));
            long control = Long.decode(fields.get("control"));

            // This test JVM is the third process. Ordinary memory of the client: readable, marker found.
            byte[] expected = marker.getBytes(StandardCharsets.US_ASCII);
            assertThat(readOtherProcess(pid, control, expected.length)).isEqualTo(expected);
            // The granted memory: the kernel refuses (EIO), because it has no mapping of those pages.
            assertThatThrownBy(() -> readOtherProcess(pid, granted, expected.length)).isInstanceOf(IOException.class)
                    .hasMessageContaining("Input/output error");
            assertThat(Smaps.find(Path.of("/proc/" + pid + "/smaps"), granted).orElseThrow().isSecretMemory()).isTrue();
        } finally {
            if (client != null) {
                client.destroyForcibly();
            }
            service.destroy();
            service.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static byte[] readOtherProcess(long pid, long address, int length) throws IOException {
        try (RandomAccessFile memory = new RandomAccessFile("/proc/" + pid + "/mem", "r")) {
            memory.seek(address);
            byte[] bytes = new byte[length];
            memory.readFully(bytes);
            return bytes;
        }
    }

    @Test
    void sigtermUnderLoadFinishesCleanlyAndGrantedMemoryOutlivesTheService() throws Exception {
        Path socket = dir.resolve("xpfo.sock");
        Process service = serve(socket, "--rate", "0");
        try {
            // Drained as it comes: the service logs every grant, and a full pipe would stall it.
            ExecutorService threads = Executors.newCachedThreadPool();
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(service.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.toString();
                }
            }, threads);
            XpfoClient keeper = XpfoClient.connect(socket);
            GrantedMemory kept = keeper.grant(2L << 20);
            kept.segment().set(ValueLayout.JAVA_LONG, 0, 0x5EC12E7L);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger grants = new AtomicInteger();
            List<CompletableFuture<Throwable>> load = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                load.add(CompletableFuture.supplyAsync(() -> {
                    try (XpfoClient client = XpfoClient.connect(socket)) {
                        while (!stop.get()) {
                            try (GrantedMemory memory = client.grant(4L << 20)) {
                                memory.segment().fill((byte) 1);
                                grants.incrementAndGet();
                            }
                        }
                        return null;
                    } catch (RuntimeException e) {
                        return e;
                    }
                }, threads));
            }
            assertThat(Services.eventually(Duration.ofSeconds(20), () -> grants.get() > 50))
                    .as("grants under load; clients ended with %s", load.stream().map(f -> String.valueOf(f.getNow(null))).toList())
                    .isTrue();
            service.toHandle().destroy(); // SIGTERM
            assertThat(service.waitFor(30, TimeUnit.SECONDS)).as("service exits after SIGTERM").isTrue();
            stop.set(true);
            String log = output.get(10, TimeUnit.SECONDS);
            assertThat(service.exitValue()).as(log).isEqualTo(143);
            assertThat(log).contains("stopping:").contains("stopped");
            for (CompletableFuture<Throwable> client : load) {
                Throwable ending = client.get(20, TimeUnit.SECONDS);
                // Every client either saw the refusal or the connection end; none hung.
                assertThat(ending).as("how a client under load ended").isInstanceOf(XpfoException.class);
                if (ending instanceof ServiceException refused) {
                    assertThat(refused.code()).contains(ErrorCode.SHUTTING_DOWN);
                }
            }
            assertThat(socket).as("socket file removed").doesNotExist();
            assertThat(kept.segment().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x5EC12E7L);
            kept.segment().set(ValueLayout.JAVA_LONG, 8, 1);
            kept.close();
            keeper.close();
            threads.shutdown();
        } finally {
            service.destroyForcibly(); // only if a failure left it running
        }
    }

    /**
     * The report: a service stopped while it warmed printed "stopping", then "ready ... serving",
     * then "stopped". A stock far larger than warms before the signal, stopped once it answers.
     */
    @Test
    void aServiceStoppedWhileWarmingNeverSaysReadyAfterStopping() throws Exception {
        Path socket = dir.resolve("xpfo.sock");
        long target = 8L << 30;
        Process service = TestJvm.start(Main.class, "serve", "--socket", socket.toString(), "--target", "8G",
                "--maximum", "8G", "--threads", "1");
        try {
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(service.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.toString();
                }
            });
            assertThat(Services.eventually(Duration.ofSeconds(30), () -> {
                try {
                    return service.isAlive() && Services.answers(socket);
                } catch (RuntimeException e) {
                    return false;
                }
            })).as("the service answers while it warms").isTrue();
            try (XpfoClient client = XpfoClient.connect(socket)) {
                long ready = new com.fasterxml.jackson.databind.ObjectMapper().readTree(client.status())
                        .at("/pool/ready_bytes").asLong();
                assertThat(ready).as("still warming when stopped").isLessThan(target);
            }
            service.toHandle().destroy(); // SIGTERM
            assertThat(service.waitFor(60, TimeUnit.SECONDS)).as("service exits after SIGTERM").isTrue();
            List<String> lines = output.get(10, TimeUnit.SECONDS).lines().toList();
            int stopping = -1;
            for (int i = 0; i < lines.size() && stopping < 0; i++) {
                stopping = lines.get(i).startsWith("xpfo serve: stopping") ? i : -1;
            }
            assertThat(stopping).as("%s", lines).isNotNegative();
            assertThat(lines.subList(stopping, lines.size())).as("after stopping").noneMatch(line -> line.contains("ready:"))
                    .anyMatch(line -> line.startsWith("xpfo serve: stopped"));
        } finally {
            service.destroyForcibly(); // only if a failure left it running
        }
    }

    @Test
    void anOrdinaryUserIsShutOutOfAnOwnerOnlySocketAndServedOnAnOpenOne() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: needs root to run a client as another user");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Service service = Services.started(Services.small(dir))) {
            TestJvm.Result refused = TestJvm.runUnprivileged(8L << 20, Main.class, "alloc", "--size", "2M",
                    "--socket", dir.resolve("xpfo.sock").toString());
            assertThat(refused.exitCode()).as(refused.output()).isEqualTo(2);
            assertThat(refused.output()).contains("EACCES").contains("--socket-group");
            assertThat(service.grantsTotal()).isZero();
        }
        Path open = dir.resolve("open");
        Files.createDirectories(open);
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Service service = Services.started(Services.small(open).withSocketMode(0666))) {
            TestJvm.Result granted = TestJvm.runUnprivileged(8L << 20, Main.class, "alloc", "--size", "2M",
                    "--socket", open.resolve("xpfo.sock").toString());
            assertThat(granted.exitCode()).as(granted.output()).isZero();
            assertThat(granted.output()).contains("granted 2 MiB in 1 chunks");
            assertThat(service.grantsTotal()).isEqualTo(1);

            // The receiver's memlock limit is checked before asking: no grant is wasted on a refusal.
            TestJvm.Result tooLittle = TestJvm.runUnprivileged(1L << 20, Main.class, "alloc", "--size", "4M",
                    "--socket", open.resolve("xpfo.sock").toString());
            assertThat(tooLittle.exitCode()).as(tooLittle.output()).isEqualTo(2);
            assertThat(tooLittle.output()).contains("exceeds RLIMIT_MEMLOCK").contains("LimitMEMLOCK");
            assertThat(service.grantsTotal()).isEqualTo(1);
            assertThat(service.statusJson()).contains("\"total\":1");
        }
    }

    @Test
    void serveRefusesAFileAtItsSocketPathWithAMessageAndExit2AndKeepsIt(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("xpfo.sock");
        Files.writeString(socket, "somebody's data");
        Process process = TestJvm.start(Main.class, "serve", "--socket", socket.toString(), "--target", "2M",
                "--maximum", "8M", "--threads", "1");
        // Not exiting within 60 s means it served instead of refusing: Child fails the test with what it printed.
        Child.Result serve = Child.finish(process, Duration.ofSeconds(60));
        assertThat(serve.exitCode()).as(serve.output()).isEqualTo(2);
        assertThat(serve.output()).startsWith("xpfo serve: refusing to listen on " + socket + ": a regular file is there")
                .doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(socket).hasContent("somebody's data");
    }
}
