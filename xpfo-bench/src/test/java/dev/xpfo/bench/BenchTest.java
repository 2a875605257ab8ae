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
        // The suite needs no C baseline; the option is required, so any path does.
        int exit = new CommandLine(new Bench()).execute("--c-baseline", dir.resolve("unused").toString(),
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
    }
}
