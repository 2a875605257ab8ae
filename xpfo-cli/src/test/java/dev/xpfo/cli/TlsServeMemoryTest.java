// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.crypto.testing.HeapDump;
import dev.xpfo.crypto.testing.KeyMaterial;
import dev.xpfo.crypto.testing.SelfSignedFiles;
import dev.xpfo.host.SecretMemoryFiles;
import dev.xpfo.isolation.MemorySearch;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The attack on {@code xpfo tls-serve}: after a thousand TLS handshakes signed by its key (EC P-256,
 * Ed25519 or RSA-2048), another process (this one, as root) reads every readable mapping of the server
 * through {@code /proc/PID/mem} with the core's {@link MemorySearch} (what {@code xpfo check} runs), and
 * then a {@code jcmd} heap dump of it, looking for the key's secrets ({@link KeyMaterial}: the EC scalar,
 * the Ed25519 seed, RSA's p, q and d, big-endian and byte-reversed as OpenSSL's BIGNUM limbs hold them).
 * None is found, while the certificate, loaded into ordinary memory by the JDK, is found in both (the
 * control: the search does see the server's heap); and the server's secret-memory mappings, libcrypto's
 * heap, are refused with {@code EIO}. One server process serves every check of its key type.
 */
class TlsServeMemoryTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final Pattern LISTENING = Pattern.compile("xpfo tls-serve: listening on https://127\\.0\\.0\\.1:(\\d+)/ .*");
    private static final int HANDSHAKES = 1000;

    @TempDir
    Path directory;

    @ParameterizedTest
    @ValueSource(strings = {"ec", "ed25519", "rsa"})
    void theServersKeyIsInNoReadableMappingNorInItsHeapDumpAfterAThousandHandshakes(String type) throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: reading another process's memory and heap needs root");
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", type);
        Map<String, byte[]> secrets = KeyMaterial.secrets(type, files.key());
        Map<String, byte[]> needles = new LinkedHashMap<>(secrets);
        needles.put("certificate", files.readCertificate().getEncoded());

        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "--enable-native-access=dev.xpfo.core,dev.xpfo.crypto", "--illegal-native-access=deny",
                "--module-path", System.getProperty("jdk.module.path"), "--module", "dev.xpfo.cli/" + Main.class.getName(),
                "tls-serve", "--key", files.key().toString(), "--cert", files.certificate().toString(), "--port", "0"));
        Process server = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            Child.Watch watch = Child.watch(server);
            Matcher listening = LISTENING.matcher(String.valueOf(watch.nextLine(TIMEOUT)));
            assertThat(listening.matches()).as(watch.printed()).isTrue();
            int port = Integer.parseInt(listening.group(1));

            long started = System.nanoTime();
            SSLContext client = files.trustingClient();
            for (int i = 0; i < HANDSHAKES; i++) {
                get(client, port, i % 2 == 0 ? "TLSv1.3" : "TLSv1.2");
            }
            long handshakes = System.nanoTime();

            MemorySearch.Result memory = MemorySearch.process(server.pid(), needles);
            long searched = System.nanoTime();
            MemorySearch.Result dump = MemorySearch.file(HeapDump.take(server.pid(), directory.resolve("server.hprof"), TIMEOUT), needles);
            long dumped = System.nanoTime();
            String report = "memory: " + memory + "; heap dump: " + dump;
            System.out.printf("TlsServeMemoryTest %s: %d handshakes %d ms, search %d ms, heap dump and search %d ms; %s%n", type,
                    HANDSHAKES, (handshakes - started) / 1_000_000, (searched - handshakes) / 1_000_000, (dumped - searched) / 1_000_000,
                    report);

            assertThat(memory.found("certificate")).as(report).isTrue();
            assertThat(dump.found("certificate")).as(report).isTrue();
            for (String secret : secrets.keySet()) {
                assertThat(memory.found(secret)).as("%s in memory: %s", secret, report).isFalse();
                assertThat(dump.found(secret)).as("%s in the heap dump: %s", secret, report).isFalse();
            }
            // libcrypto's heap: secret memory, which /proc/PID/mem refuses with the kernel's EIO
            List<MemorySearch.Refusal> secretMemory = memory.refusals().stream()
                    .filter(r -> r.mapping().path().equals(SecretMemoryFiles.NAME)).toList();
            assertThat(secretMemory).as(report).isNotEmpty().allSatisfy(r -> assertThat(r.errnoName()).isEqualTo("EIO"));
        } finally {
            Child.killTree(server);
        }
    }

    /** One full handshake (the session is invalidated, so none is resumed) and one page. */
    private static void get(SSLContext client, int port, String protocol) throws Exception {
        try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            socket.setTcpNoDelay(true); // a flight is sent at once, not held back until the server's delayed ACK
            socket.setEnabledProtocols(new String[] {protocol});
            OutputStream out = socket.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            assertThat(status).isEqualTo("HTTP/1.1 200 OK");
            socket.getSession().invalidate();
        }
    }
}
