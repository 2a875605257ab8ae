package dev.xpfo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.host.CallInterrupts;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoFile;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Sizing and populating secret memory: xpfo's {@link XpfoFile} on 1 and 2 threads, next to the same
 * done by a C program calling {@code memfd_secret} directly, and next to anonymous memory touched
 * page by page, all in one run with rounds interleaved so that machine noise hits every row alike.
 * Prints per-page costs and ratios; writes JSON with {@code --json}.
 */
@Command(name = "xpfo bench", mixinStandardHelpOptions = true,
        description = "Populate cost per 4 KiB page: xpfo vs raw memfd_secret from C vs anonymous memory.")
public final class PopulateBenchmark implements Callable<Integer> {
    @Option(names = "--size", defaultValue = "256M", description = "Bytes per run (default ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--rounds", defaultValue = "5", description = "Measured rounds per row (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path json;

    @Option(names = "--c-baseline", required = true, paramLabel = "BINARY", description = "The compiled C baseline.")
    Path cBaseline;

    private static final long PAGE = dev.xpfo.linux.Libc.pageSize();

    /** One way of getting {@code bytes} populated, returning the nanoseconds it took. */
    private interface Contender {
        long run(long bytes) throws Exception;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new PopulateBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long bytes = Bytes.roundUp(Bytes.parse(size), PAGE);
        long pages = bytes / PAGE;
        Map<String, Contender> rows = new LinkedHashMap<>();
        rows.put("populate.c_memfd_secret", this::cBaseline);
        rows.put("populate.xpfo", b -> xpfo(b, 1));
        rows.put("populate.xpfo_2_threads", b -> xpfo(b, 2));
        rows.put("populate.anon", PopulateBenchmark::anonymous);

        System.out.printf(Locale.ROOT, "populate %s (%d pages) per run, %d rounds + 1 warm-up, rows interleaved%n",
                Bytes.format(bytes), pages, rounds);
        Map<String, List<Long>> nanos = new LinkedHashMap<>();
        Map<String, List<Double>> ipis = new LinkedHashMap<>();
        rows.keySet().forEach(k -> {
            nanos.put(k, new ArrayList<>());
            ipis.put(k, new ArrayList<>());
        });
        List<String> order = new ArrayList<>(rows.keySet());
        for (int round = 0; round <= rounds; round++) {
            for (int i = 0; i < order.size(); i++) {
                // Rotate the order each round so no row always runs right after the same neighbour.
                String name = order.get((i + round) % order.size());
                long before = CallInterrupts.total();
                long elapsed = rows.get(name).run(bytes);
                long after = CallInterrupts.total();
                if (round > 0) {
                    nanos.get(name).add(elapsed);
                    ipis.get(name).add(before < 0 ? Double.NaN : (after - before) / (bytes / (double) Bytes.MIB));
                }
            }
            System.out.print(round == 0 ? "warm-up done" : " round " + round);
            System.out.flush();
        }
        System.out.println();

        Map<String, double[]> perPage = new LinkedHashMap<>();
        nanos.forEach((name, list) -> perPage.put(name, list.stream().mapToDouble(n -> n / (double) pages).sorted().toArray()));
        System.out.printf(Locale.ROOT, "%n%-26s %12s %12s %12s %12s%n", "row", "ns/page med", "min", "max", "IPIs/MiB");
        perPage.forEach((name, values) -> System.out.printf(Locale.ROOT, "%-26s %12.0f %12.0f %12.0f %12.0f%n",
                name, median(values), values[0], values[values.length - 1], median(ipis.get(name))));

        double c = median(perPage.get("populate.c_memfd_secret"));
        double x1 = median(perPage.get("populate.xpfo"));
        double x2 = median(perPage.get("populate.xpfo_2_threads"));
        double anon = median(perPage.get("populate.anon"));
        Map<String, Double> ratios = new LinkedHashMap<>();
        ratios.put("xpfo / c_memfd_secret", x1 / c);
        ratios.put("xpfo_2_threads / xpfo", x2 / x1);
        ratios.put("c_memfd_secret / anon", c / anon);
        ratios.put("xpfo / anon", x1 / anon);
        System.out.println();
        ratios.forEach((name, value) -> System.out.printf(Locale.ROOT, "%-26s %8.2fx%n", name, value));
        System.out.printf(Locale.ROOT, "%nxpfo within 1.10x of C: %s (%.2fx). Populating on 2 threads %s (%.2fx of 1 thread).%n",
                x1 / c <= 1.10 ? "yes" : "NO", x1 / c, x2 < x1 * 0.95 ? "helps" : "does not help", x2 / x1);

        if (json != null) {
            writeJson(bytes, perPage, ipis, ratios);
            System.out.println("results written to " + json);
        }
        return 0;
    }

    private long cBaseline(long bytes) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(cBaseline.toString(), Long.toString(bytes)).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (process.waitFor() != 0) {
            throw new IllegalStateException("C baseline failed: " + output);
        }
        return Long.parseLong(output.split("\\s+")[0]);
    }

    private static long xpfo(long bytes, int threads) {
        long start = System.nanoTime();
        try (XpfoFile file = XpfoFile.create(bytes)) {
            file.populate(threads, PopulateProgress.NONE);
            return System.nanoTime() - start;
        }
    }

    private static long anonymous(long bytes) {
        long start = System.nanoTime();
        try (Mapping mapping = Mapping.anonymous(bytes)) {
            MemorySegment memory = mapping.segment();
            // A read would map the shared zero page; anonymous memory is only allocated by a write.
            for (long offset = 0; offset < bytes; offset += PAGE) {
                memory.set(ValueLayout.JAVA_BYTE, offset, (byte) 1);
            }
            return System.nanoTime() - start;
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return median(sorted);
    }

    private void writeJson(long bytes, Map<String, double[]> perPage, Map<String, List<Double>> ipis,
                           Map<String, Double> ratios) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("bytes", bytes);
        root.put("rounds", rounds);
        ObjectNode rowsNode = root.putObject("rows");
        perPage.forEach((name, values) -> {
            ObjectNode row = rowsNode.putObject(name);
            row.put("unit", "ns/page");
            row.put("median", median(values));
            row.put("min", values[0]);
            row.put("max", values[values.length - 1]);
            row.put("ipis_per_mib", median(ipis.get(name)));
            var samples = row.putArray("samples");
            Arrays.stream(values).forEach(samples::add);
        });
        ObjectNode ratioNode = root.putObject("ratios");
        ratios.forEach(ratioNode::put);
        Files.writeString(json, mapper.writeValueAsString(root));
    }
}
