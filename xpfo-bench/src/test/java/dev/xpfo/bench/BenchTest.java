// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xpfo.testing.Child;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./xpfo bench} publishes rows under exact names, with ratios and target verdicts, as JSON and as a
 * chart: a tiny run checks that every promised row, file and verdict is there (timings are not judged).
 */
class BenchTest {

    @Test
    void aTinyRunWritesEveryNamedRowTheRatiosAndBothChartFormats(@TempDir Path dir) throws Exception {
        // The C baseline is part of what the bench promises: a compile failure fails the test, as does a missing cc.
        Child.Result cc = Child.run(List.of("cc", "-O2", "-Wall", "-Werror", "-o", dir.resolve("baseline").toString(),
                Path.of("src/main/c/memfd_secret_baseline.c").toAbsolutePath().toString()), Duration.ofSeconds(60));
        assertThat(cc.exitCode()).as("the C baseline compiles:\n%s", cc.output()).isZero();
        System.setProperty("java.awt.headless", "true");

        Path json = dir.resolve("results.json");
        int exit = new CommandLine(new Bench()).execute("--c-baseline", dir.resolve("baseline").toString(),
                "--size", "2M", "--rounds", "1", "--small-ops", "2000", "--slow-ops", "5", "--grant-size", "4M",
                "--rate-grants", "20",
                "--json", json.toString(), "--plot", dir.resolve("chart.png").toString());
        assertThat(exit).isZero();
        assertThat(new CommandLine(new Bench()).execute("--c-baseline", dir.resolve("baseline").toString(),
                "--suites", "small", "--rounds", "1", "--small-ops", "100", "--slow-ops", "2",
                "--plot", dir.resolve("chart.svg").toString())).isZero();

        JsonNode results = new ObjectMapper().readTree(json.toFile());
        List<String> rows = List.of("populate.c_memfd_secret", "populate.xpfo", "populate.xpfo_2_threads", "populate.anon",
                "small.xpfo", "small.xpfo_2_threads", "small.memfd_secret", "small.heap",
                "bulk.warm", "bulk.cold", "bulk.anon", "bulk.warm.ipis_per_mib", "bulk.cold.ipis_per_mib",
                "grant.warm", "grant.warm_refilling", "grant.cold", "grant.anon", "grant.exchange_p50", "grant.exchange_p99",
                "grant.rate");
        for (String row : rows) {
            JsonNode median = results.at("/rows/" + row + "/median");
            assertThat(median.isNumber()).as(row).isTrue();
            if (row.endsWith("ipis_per_mib")) {
                assertThat(median.asDouble()).as(row).isNotNegative();
            } else {
                assertThat(median.asDouble()).as(row).isPositive();
            }
        }
        if (LibSodium.available()) {
            assertThat(results.at("/rows/small.sodium/median").asDouble()).isPositive();
        } else {
            assertThat(results.at("/skipped/small.sodium").asText()).contains("libsodium");
        }
        assertThat(results.at("/rows/small.xpfo/unit").asText()).isEqualTo("ns/op");
        assertThat(results.at("/rows/bulk.warm/unit").asText()).isEqualTo("ns/page");
        assertThat(results.get("ratios").has("bulk.warm / bulk.anon")).isTrue();
        assertThat(results.get("verdicts").toString()).contains("small: xpfo").contains("bulk: warm within 1.2x")
                .contains("populate: xpfo within 1.10x").contains("grant: warm at least 4x faster than cold");

        byte[] png = Files.readAllBytes(dir.resolve("chart.png"));
        assertThat(png).startsWith(0x89, 'P', 'N', 'G');
        assertThat(Files.readString(dir.resolve("chart.svg"))).contains("<svg").hasSizeGreaterThan(10_000);
    }

    @Test
    void theCryptoSuiteMeasuresEveryProviderSideBySideOrSaysWhyNot(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("crypto.json");
        // The hook rows' C program, compiled as the bench script does: with OpenSSL's headers it must compile
        // warning-free; without them the rows must say what is missing.
        boolean headers = Files.exists(Path.of("/usr/include/openssl/evp.h"));
        Path hook = dir.resolve("crypto_hook_baseline");
        if (headers) {
            Child.Result cc = Child.run(List.of("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", hook.toString(),
                    Path.of("src/main/c/crypto_hook_baseline.c").toAbsolutePath().toString(),
                    Path.of("../xpfo-crypto/src/main/c/xpfo_crypto_heap.c").toAbsolutePath().toString(), "-lcrypto", "-lpthread"),
                    Duration.ofSeconds(60));
            assertThat(cc.exitCode()).as("crypto_hook_baseline compiles:\n%s", cc.output()).isZero();
        }
        // The suite needs no memfd_secret C baseline; the option is required, so any path does.
        int exit = new CommandLine(new Bench()).execute("--c-baseline", dir.resolve("unused").toString(),
                "--crypto-hook-baseline", hook.toString(),
                "--suites", "crypto", "--rounds", "1", "--crypto-millis", "5", "--json", json.toString());
        assertThat(exit).isZero();

        JsonNode results = new ObjectMapper().readTree(json.toFile());
        String accp = CryptoSuite.accpProblem();
        for (String operation : CryptoSuite.OPERATIONS) {
            for (String provider : CryptoSuite.PROVIDERS) {
                String row = "crypto." + operation + "." + provider;
                if (provider.equals("accp") && accp != null) {
                    assertThat(results.at("/skipped/" + row).asText()).as(row).contains("Corretto").contains(accp);
                } else if (Set.of("crypto.x25519_agree.accp", "crypto.chacha20_poly1305_1k.accp").contains(row)) {
                    // ACCP 2.5.0 offers neither: the row says so instead of vanishing.
                    assertThat(results.at("/skipped/" + row).asText()).as(row).contains("NoSuchAlgorithmException");
                } else {
                    assertThat(results.at("/rows/" + row + "/median").asDouble()).as(row).isPositive();
                    assertThat(results.at("/rows/" + row + "/unit").asText()).as(row).isEqualTo("ns/op");
                }
            }
            assertThat(results.get("ratios").has("crypto." + operation + ".xpfo/jdk (speed)")).as(operation).isTrue();
        }
        assertThat(results.get("verdicts").toString()).contains("crypto: signatures at least 3x the JDK");

        // TLS 1.3 handshakes: every provider in a JVM of its own, each handshake a full one (the child fails a
        // round otherwise), the whole handshake and the server's share.
        for (String provider : CryptoSuite.TLS_CONFIGURATIONS) {
            String row = "crypto.tls13_handshake." + provider;
            if (provider.equals("accp") && accp != null) {
                assertThat(results.at("/skipped/" + row).asText()).as(row).contains("Corretto");
                continue;
            }
            for (String measured : List.of(row, row + ".server_side")) {
                assertThat(results.at("/rows/" + measured + "/median").asDouble()).as(measured).isPositive();
                assertThat(results.at("/rows/" + measured + "/unit").asText()).as(measured).isEqualTo("ns/handshake");
            }
            assertThat(results.at("/rows/" + row + ".server_side/median").asDouble()).as(row)
                    .isLessThan(results.at("/rows/" + row + "/median").asDouble());
            // Its public-key operations, each alone, and the share of the handshake they take.
            for (String part : HandshakeParts.NAMES) {
                assertThat(results.at("/rows/" + row + ".part." + part + "/median").asDouble()).as(row + " " + part).isPositive();
            }
            assertThat(results.at("/rows/" + row + ".public_key_share/median").asDouble()).as(row).isPositive();
        }
        assertThat(results.get("ratios").has("crypto.tls13_handshake.xpfo/jdk (speed)")).isTrue();
        // XPFO first in the provider list: the child runs only if JSSE's key shares are XPFO's there.
        assertThat(results.get("ratios").has("crypto.tls13_handshake.xpfo_first/jdk (speed)")).isTrue();
        assertThat(results.get("verdicts").toString()).contains("crypto: TLS 1.3 handshakes (EC P-256 server key");

        // The allocation hook: the same operations with libcrypto's heap on libc's malloc and on xpfo's allocator.
        for (String operation : CryptoSuite.HOOK_OPERATIONS) {
            for (String mode : CryptoSuite.HOOK_MODES) {
                String row = "crypto.hook." + operation + "." + mode;
                if (!headers) {
                    assertThat(results.at("/skipped/" + row).asText()).as(row).contains("libssl-dev");
                    continue;
                }
                assertThat(results.at("/rows/" + row + "/median").asDouble()).as(row).isPositive();
                assertThat(results.at("/rows/" + row + ".allocations/unit").asText()).as(row).isEqualTo("allocs/op");
                // The hook changes where libcrypto's memory comes from, never how often it asks for it.
                assertThat(results.at("/rows/" + row + ".allocations/median").asDouble()).as(row)
                        .isEqualTo(results.at("/rows/crypto.hook." + operation + ".plain.allocations/median").asDouble());
            }
            if (headers) {
                assertThat(results.get("ratios").has("crypto.hook." + operation + ".xpfo_heap/plain (time)")).as(operation).isTrue();
            }
        }
        if (headers) {
            // A context reused across signatures saves allocations; a reused AES-GCM context needs none.
            double fresh = results.at("/rows/crypto.hook.ecdsa_p256_sign_fresh.plain.allocations/median").asDouble();
            double reused = results.at("/rows/crypto.hook.ecdsa_p256_sign_reused.plain.allocations/median").asDouble();
            assertThat(reused).isPositive().isLessThan(fresh);
            assertThat(results.at("/rows/crypto.hook.aes256_gcm_1k.xpfo_heap.allocations/median").asDouble()).isZero();
        }
    }
}
