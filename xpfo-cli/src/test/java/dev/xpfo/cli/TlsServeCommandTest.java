// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.crypto.testing.SelfSignedFiles;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code xpfo tls-serve}: real clients ({@code curl}, {@code openssl s_client}) complete TLS 1.3 and 1.2
 * handshakes with a server whose key is in secret memory, and see the certificate that was loaded; bad
 * options are refused before anything starts.
 */
class TlsServeCommandTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("xpfo tls-serve: listening on https://127\\.0\\.0\\.1:(\\d+)/ .*");

    @TempDir
    Path directory;

    private int made;

    /** A key and its self-signed certificate in this test's directory: {key, certificate}. */
    private Path[] selfSigned(String type) throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server" + made++, type);
        return new Path[] {files.key(), files.certificate()};
    }

    /** {@code xpfo tls-serve} in a child JVM with native access for the core and the crypto module. */
    private static Process tlsServe(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "--enable-native-access=dev.xpfo.core,dev.xpfo.crypto", "--illegal-native-access=deny",
                "--module-path", System.getProperty("jdk.module.path"), "--module", "dev.xpfo.cli/" + Main.class.getName(), "tls-serve"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ec", "ed25519", "rsa"})
    void curlAndOpensslCompleteHandshakesAndSeeTheLoadedCertificate(String type) throws Exception {
        Path[] files = selfSigned(type);
        Process server = tlsServe("--key", files[0].toString(), "--cert", files[1].toString(), "--port", "0");
        try {
            Child.Watch watch = Child.watch(server);
            String first = watch.nextLine(TIMEOUT);
            Matcher listening = LISTENING.matcher(String.valueOf(first));
            assertThat(listening.matches()).as(watch.printed()).isTrue();
            String url = "https://127.0.0.1:" + listening.group(1) + "/";

            for (String version : List.of("--tlsv1.3", "--tlsv1.2")) {
                List<String> curl = new ArrayList<>(List.of("curl", "-sS", "--max-time", "30", "--cacert", files[1].toString(), version));
                if (version.equals("--tlsv1.2")) {
                    curl.addAll(List.of("--tls-max", "1.2"));
                }
                curl.add(url);
                Child.Result fetched = Child.run(curl, TIMEOUT);
                assertThat(fetched.exitCode()).as(fetched.stderr()).isZero();
                assertThat(new String(fetched.stdout(), StandardCharsets.US_ASCII))
                        .startsWith("xpfo tls-serve: " + (version.equals("--tlsv1.3") ? "TLSv1.3" : "TLSv1.2"))
                        .contains("key held in secret memory");
            }

            Path seen = directory.resolve("seen.pem");
            Child.Result handshake = Child.run(new ProcessBuilder("sh", "-c",
                    "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:" + listening.group(1)
                            + " -CAfile " + files[1] + " -verify_return_error -servername localhost 2>&1"
                            + " | openssl x509 -outform PEM > " + seen), TIMEOUT);
            assertThat(handshake.exitCode()).as(handshake.output()).isZero();
            assertThat(Child.run(List.of("openssl", "x509", "-in", files[1].toString(), "-noout", "-fingerprint", "-sha256"), TIMEOUT).output())
                    .isEqualTo(Child.run(List.of("openssl", "x509", "-in", seen.toString(), "-noout", "-fingerprint", "-sha256"), TIMEOUT).output());
        } finally {
            Child.killTree(server);
        }
    }

    @Test
    void badOptionsAreUsageErrorsBeforeAnythingStarts() throws Exception {
        Path[] files = selfSigned("ec");
        CliRun missing = CliRun.of("tls-serve", "--key", directory.resolve("absent.pem").toString(), "--cert", files[1].toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.out()).startsWith("xpfo tls-serve: cannot read " + directory.resolve("absent.pem")).doesNotContain("Exception");
        CliRun port = CliRun.of("tls-serve", "--key", files[0].toString(), "--cert", files[1].toString(), "--port", "70000");
        assertThat(port.exitCode()).isEqualTo(2);
        assertThat(port.out()).startsWith("xpfo tls-serve: --port must be 0 to 65535");
        CliRun bind = CliRun.of("tls-serve", "--key", files[0].toString(), "--cert", files[1].toString(), "--bind", "example.com");
        assertThat(bind.exitCode()).isEqualTo(2);
        assertThat(bind.out()).startsWith("xpfo tls-serve: --bind must be a literal");
        CliRun noCert = CliRun.of("tls-serve", "--key", files[0].toString());
        assertThat(noCert.exitCode()).isEqualTo(2);
        assertThat(noCert.out()).startsWith("xpfo tls-serve: ").contains("--cert");
    }

    @Test
    void aCertificateOfAnotherKeyIsRefusedWithoutAStackTrace() throws Exception {
        Path[] one = selfSigned("ec");
        Path otherCertificate = Files.move(one[1], directory.resolve("one.cert.pem"));
        Path key = Files.move(one[0], directory.resolve("one.key.pem"));
        Path[] other = selfSigned("ec");
        Process server = tlsServe("--key", key.toString(), "--cert", other[1].toString(), "--port", "0");
        Child.Result result = Child.finish(server, TIMEOUT);
        assertThat(result.exitCode()).as(result.output()).isEqualTo(2);
        assertThat(result.output()).startsWith("xpfo tls-serve: cannot load").contains("is not for the private key")
                .doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(otherCertificate).exists();
    }

    @Test
    void anOrdinaryUserWithoutMemlockRoomIsRefusedClearlyNotServedFromOrdinaryMemory() throws Exception {
        Path[] files = selfSigned("ec");
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (Path file : files) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        }
        TestJvm.Result result = TestJvm.runUnprivileged(64 * 1024, Main.class, "tls-serve", "--key", files[0].toString(),
                "--cert", files[1].toString(), "--port", "0");
        assertThat(result.exitCode()).as(result.output()).isEqualTo(2);
        assertThat(result.output()).startsWith("xpfo tls-serve: libcrypto's heap needs secret memory")
                .contains("memlock").doesNotContain("listening").doesNotContain("Exception").doesNotContain("\tat ");
    }
}
