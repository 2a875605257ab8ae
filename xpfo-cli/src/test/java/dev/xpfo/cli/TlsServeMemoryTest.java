// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.isolation.ChildJvm;
import dev.xpfo.isolation.ReadAttempts;
import dev.xpfo.crypto.testing.SelfSignedFiles;
import dev.xpfo.testing.Child;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The attack: after a thousand TLS handshakes signed by {@code xpfo tls-serve}, another process reads
 * every readable mapping of the server through {@code /proc/PID/mem} and looks for the EC private
 * scalar (big- and little-endian). It is not found, while the certificate, loaded into ordinary
 * memory by the JDK, is found (the control: the scan does see the server's heap).
 */
class TlsServeMemoryTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final Pattern LISTENING = Pattern.compile("xpfo tls-serve: listening on https://127\\.0\\.0\\.1:(\\d+)/ .*");
    private static final int HANDSHAKES = 1000;

    @TempDir
    Path directory;

    @Test
    void theServersPrivateScalarIsInNoReadableMappingAfterAThousandHandshakes() throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256);
        Path key = files.key();
        Path certificatePath = files.certificate();
        byte[] scalar = files.ecScalar();
        byte[] littleEndian = SelfSignedFiles.reversed(scalar);
        X509Certificate certificate;
        try (InputStream in = Files.newInputStream(certificatePath)) {
            certificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }

        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "--enable-native-access=dev.xpfo.core,dev.xpfo.crypto", "--illegal-native-access=deny",
                "--module-path", System.getProperty("jdk.module.path"), "--module", "dev.xpfo.cli/" + Main.class.getName(),
                "tls-serve", "--key", key.toString(), "--cert", certificatePath.toString(), "--port", "0"));
        Process server = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            Child.Watch watch = Child.watch(server);
            Matcher listening = LISTENING.matcher(String.valueOf(watch.nextLine(TIMEOUT)));
            assertThat(listening.matches()).as(watch.printed()).isTrue();
            int port = Integer.parseInt(listening.group(1));

            SSLContext client = files.trustingClient();
            for (int i = 0; i < HANDSHAKES; i++) {
                get(client, port, i % 2 == 0 ? "TLSv1.3" : "TLSv1.2");
            }

            Map<String, Boolean> found = scan(server.pid(), Map.of("scalar", scalar, "scalar_le", littleEndian, "certificate", certificate.getEncoded()));
            assertThat(found).containsEntry("certificate", true);
            assertThat(found).containsEntry("scalar", false).containsEntry("scalar_le", false);
        } finally {
            Child.killTree(server);
        }
    }

    /** One full handshake (the session is invalidated, so none is resumed) and one page. */
    private static void get(SSLContext client, int port, String protocol) throws Exception {
        try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            socket.setEnabledProtocols(new String[] {protocol});
            OutputStream out = socket.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            assertThat(status).isEqualTo("HTTP/1.1 200 OK");
            socket.getSession().invalidate();
        }
    }

    /** Runs the core's {@link ReadAttempts} against {@code pid}; the "scan" line of each marker: found or not. */
    private static Map<String, Boolean> scan(long pid, Map<String, byte[]> markers) throws Exception {
        List<String> args = new ArrayList<>(List.of(Long.toString(pid)));
        HexFormat hex = HexFormat.of();
        for (Map.Entry<String, byte[]> marker : markers.entrySet()) {
            byte[] half = new byte[marker.getValue().length];
            new java.security.SecureRandom().nextBytes(half);
            byte[] other = marker.getValue().clone();
            for (int i = 0; i < other.length; i++) {
                other[i] ^= half[i];
            }
            // No region of its own: only the scan of every readable mapping matters here.
            args.addAll(List.of(marker.getKey(), "1000", "8", hex.formatHex(half), hex.formatHex(other)));
        }
        Process attacker = new ProcessBuilder(ChildJvm.command(ReadAttempts.class, args)).start();
        attacker.getOutputStream().write('\n');
        attacker.getOutputStream().close();
        Child.Result result = Child.finish(attacker, TIMEOUT);
        assertThat(result.exitCode()).as(result.output()).isZero();
        List<String[]> scans = result.output().lines().map(line -> line.split("\t")).filter(f -> f.length > 5 && f[1].equals("scan")).toList();
        assertThat(scans).as(result.output()).hasSize(markers.size());
        for (String[] scan : scans) {
            assertThat(scan[3]).as("scan of %s: %s", scan[2], Arrays.toString(scan)).isEqualTo("0");
        }
        return scans.stream().collect(Collectors.toMap(f -> f[2], f -> Boolean.parseBoolean(f[5])));
    }
}
