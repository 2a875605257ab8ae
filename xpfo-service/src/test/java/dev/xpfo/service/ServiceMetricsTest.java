// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a Prometheus server scraping a service that has granted nothing yet gets: every family with
 * its HELP and TYPE and a sample (at zero where nothing happened), the names the README's table
 * documents and no others, grant latency as buckets rather than percentiles, counters rather than
 * rates, the build, and the JVM and process families.
 */
class ServiceMetricsTest {
    private static final Path README = Path.of(System.getProperty("user.dir")).resolveSibling("README.md");
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");

    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    /** A scrape, parsed: family name to its TYPE, HELP and sample lines. */
    private record Family(String type, String help, List<String> samples) {
    }

    private static Map<String, Family> parse(String scrape) {
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> helps = new LinkedHashMap<>();
        for (String line : scrape.lines().toList()) {
            String[] words = line.split(" ", 4);
            if (line.startsWith("# TYPE ")) {
                types.put(words[2], words[3]);
            } else if (line.startsWith("# HELP ")) {
                helps.put(words[2], words.length > 3 ? words[3] : "");
            }
        }
        Map<String, Family> families = new LinkedHashMap<>();
        for (Map.Entry<String, String> type : types.entrySet()) {
            String name = type.getKey();
            List<String> samples = scrape.lines().filter(line -> !line.startsWith("#"))
                    .filter(line -> belongsTo(line, name, type.getValue())).toList();
            families.put(name, new Family(type.getValue(), helps.get(name), samples));
        }
        return families;
    }

    /** Whether a sample line is of the family: its own name, or a histogram's or counter's suffixed series. */
    private static boolean belongsTo(String line, String family, String type) {
        Matcher sample = SAMPLE.matcher(line);
        if (!sample.find()) {
            return false;
        }
        String name = sample.group(1);
        List<String> suffixes = switch (type) {
            case "counter" -> List.of("", "_total");
            case "histogram" -> List.of("_bucket", "_count", "_sum");
            case "summary" -> List.of("", "_count", "_sum");
            default -> List.of("");
        };
        return suffixes.stream().anyMatch(suffix -> name.equals(family + suffix)
                || (type.equals("counter") && family.endsWith("_total") && name.equals(family)));
    }

    /** The {@code xpfo_} families the README's metrics table lists. */
    private static Set<String> documented() throws IOException {
        Pattern row = Pattern.compile("^\\| `(xpfo_[a-z_]+)(\\{[^`]*})?` \\|");
        return Files.readAllLines(README).stream().map(row::matcher).filter(Matcher::find).map(m -> m.group(1))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static String scrape(Service service) throws IOException {
        try (InputStream in = URI.create(service.metricsAddress()).toURL().openStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static double value(String scrape, String series) {
        return scrape.lines().filter(line -> line.startsWith(series + " ")).map(line -> line.split(" ")[1])
                .mapToDouble(Double::parseDouble).findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + series + " in\n" + scrape));
    }

    @Test
    void aFreshServiceShowsEveryFamilyWithHelpAndASampleAtZero() throws IOException {
        ServiceSettings settings = Services.small(dir).withMetrics(new InetSocketAddress("127.0.0.1", 0));
        try (Service service = Services.started(settings)) {
            String scrape = scrape(service);
            Map<String, Family> families = parse(scrape);

            Set<String> xpfo = families.keySet().stream().filter(name -> name.startsWith("xpfo_"))
                    .map(name -> families.get(name).type().equals("counter") && !name.endsWith("_total") ? name + "_total" : name)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertThat(xpfo).as("exactly the families README.md documents, one name per quantity")
                    .isEqualTo(documented());
            families.forEach((name, family) -> {
                assertThat(family.help()).as("HELP of %s", name).isNotBlank();
                assertThat(family.samples()).as("samples of %s", name).isNotEmpty();
            });

            for (String zero : List.of("xpfo_grants_total", "xpfo_granted_bytes_total", "xpfo_outstanding_bytes",
                    "xpfo_stock_on_demand_bytes_total", "xpfo_stock_trimmed_bytes_total", "xpfo_clients",
                    "xpfo_connections_total", "xpfo_grant_duration_seconds_count", "xpfo_grant_duration_seconds_sum")) {
                assertThat(value(scrape, zero)).as(zero).isZero();
            }
            for (ErrorCode code : ErrorCode.values()) {
                assertThat(value(scrape, "xpfo_refusals_total{code=\"" + code.name() + "\"}")).as(code.name()).isZero();
            }
            assertThat(value(scrape, "xpfo_stock_ready_bytes")).isEqualTo(16L << 20);
            assertThat(value(scrape, "xpfo_stock_warmed_bytes_total")).isEqualTo(16L << 20);

            assertThat(families.get("xpfo_grant_duration_seconds").type()).isEqualTo("histogram");
            List<String> buckets = families.get("xpfo_grant_duration_seconds").samples().stream()
                    .filter(line -> line.startsWith("xpfo_grant_duration_seconds_bucket{")).toList();
            assertThat(buckets).as("one bucket per fixed bound, and +Inf")
                    .hasSize(ServiceMetrics.GRANT_BUCKETS.size() + 1)
                    .anyMatch(line -> line.startsWith("xpfo_grant_duration_seconds_bucket{le=\"0.001\"} 0"))
                    .anyMatch(line -> line.startsWith("xpfo_grant_duration_seconds_bucket{le=\"+Inf\"} 0"));
            assertThat(scrape).as("no client-side percentiles").doesNotContain("quantile=");
            assertThat(families.keySet()).as("counters, not rates computed in the service")
                    .noneMatch(name -> name.contains("per_second") || name.contains("_rate"));
            assertThat(xpfo).as("no summaries of ours (the JVM binders' GC timers are theirs)")
                    .noneMatch(name -> families.getOrDefault(name, new Family("", "", List.of())).type().equals("summary"));

            assertThat(families.get("xpfo_build_info").samples()).singleElement().satisfies(line -> {
                assertThat(line).contains("version=\"").doesNotContain("version=\"unknown\"").doesNotContain("${")
                        .contains("protocol=\"1\"").matches(".* 1(\\.0)?");
            });
            assertThat(families.keySet()).as("the JVM and process binders").contains("jvm_memory_used_bytes",
                    "jvm_gc_memory_allocated_bytes_total", "jvm_threads_live_threads", "jvm_classes_loaded_classes", "jvm_info", "process_uptime_seconds",
                    "process_files_open_files", "process_cpu_usage", "system_cpu_count");
        }
    }

    @Test
    void aGrantIsCountedOnceUnderEachName() throws IOException {
        ServiceSettings settings = Services.small(dir).withMetrics(new InetSocketAddress("127.0.0.1", 0));
        try (Service service = Services.started(settings);
             var client = dev.xpfo.client.XpfoClient.connect(dir.resolve("xpfo.sock"));
             var memory = client.grant(4L << 20)) {
            String scrape = scrape(service);
            assertThat(value(scrape, "xpfo_grants_total")).isEqualTo(1);
            assertThat(value(scrape, "xpfo_granted_bytes_total")).isEqualTo(4L << 20);
            assertThat(value(scrape, "xpfo_outstanding_bytes")).isEqualTo(4L << 20);
            assertThat(value(scrape, "xpfo_grant_duration_seconds_count")).isEqualTo(1);
            assertThat(value(scrape, "xpfo_grant_duration_seconds_bucket{le=\"+Inf\"}")).isEqualTo(1);
            assertThat(value(scrape, "xpfo_connections_total")).isEqualTo(1);
            assertThat(value(scrape, "xpfo_clients")).isEqualTo(1);
            assertThat(Arrays.stream(scrape.split("\n")).filter(line -> line.startsWith("# TYPE xpfo_"))
                    .map(line -> line.split(" ")[2]).toList()).as("no quantity under a second name")
                    .doesNotContain("xpfo_stock_handed_out_bytes", "xpfo_stock_takes_total", "xpfo_grant_latency_seconds",
                            "xpfo_stock_refill_bytes_per_second", "xpfo_stock_chunks_populated_total");
        }
    }
}
