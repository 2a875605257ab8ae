// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PageSize;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ./xpfo bench}: every row next to its baselines, in one run, rounds interleaved; prints a table,
 * the ratios and the targets, and writes JSON and a chart when asked.
 */
@Command(name = "xpfo bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks xpfo side by side with its baselines: raw memfd_secret from C, anonymous memory, "
                + "libsodium, the Java heap.", "Suites: populate (XpfoFile), small (Secret), bulk (PagePool), grant (xpfo serve and its clients), vm (QEMU boots with guest RAM from xpfo), "
                + "crypto (the XPFO provider against the JDK, ACCP and BouncyCastle; not in the default, run it with --suites crypto)."})
public final class Bench implements Callable<Integer> {
    static final long PAGE = PageSize.BYTES;

    @Option(names = "--suites", split = ",", defaultValue = "populate,small,bulk,grant,vm",
            description = "Which suites to run (default: ${DEFAULT-VALUE}).")
    List<String> suites;

    @Option(names = "--size", defaultValue = "256M", description = "Bytes per populate and bulk run (default: ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--grant-size", defaultValue = "64M",
            description = "Bytes per grant in the grant suite, whole 2 MiB chunks (default: ${DEFAULT-VALUE}).")
    String grantSize;

    @Option(names = "--rate-grants", defaultValue = "400",
            description = "2 MiB grants per grant.rate measurement (default: ${DEFAULT-VALUE}).")
    int rateGrants;

    @Option(names = "--rounds", defaultValue = "5", description = "Measured rounds per row (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--small-ops", defaultValue = "500000",
            description = "Secrets per round for small.xpfo and small.heap (default: ${DEFAULT-VALUE}).")
    int smallOps;

    @Option(names = "--slow-ops", defaultValue = "3000",
            description = "Secrets per round for small.sodium and small.memfd_secret (default: ${DEFAULT-VALUE}).")
    int slowOps;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE", description = "Also draw the time rows as a bar chart (.png or .svg).")
    Path plot;

    @Option(names = "--vm-guest", paramLabel = "DIR", description = "The test guest scripts/guest/build prepared "
            + "(the vm suite is skipped without it).")
    Path vmGuest;

    @Option(names = "--vm-preload", paramLabel = "FILE", description = "The QEMU preload library (clients/qemu).")
    Path vmPreload;

    @Option(names = "--vm-ram", defaultValue = "512M", description = "Guest RAM of the vm suite (default: ${DEFAULT-VALUE}).")
    String vmRam;

    @Option(names = "--crypto-millis", defaultValue = "200",
            description = "Time per row per round in the crypto suite, milliseconds; the warm-up calibrates each row's operation count to it (default: ${DEFAULT-VALUE}).")
    long cryptoMillis;

    @Option(names = "--crypto-hook-baseline", paramLabel = "BINARY", description = "The compiled crypto_hook_baseline "
            + "(libcrypto with and without xpfo's allocator); the crypto suite's hook rows are skipped without it.")
    Path cryptoHookBaseline;

    @Option(names = "--c-baseline", required = true, paramLabel = "BINARY", description = "The compiled C baseline.")
    Path cBaseline;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Bench()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long bytes = Bytes.roundUp(Bytes.parse(size), PAGE);
        CBaseline c = new CBaseline(cBaseline);
        System.out.printf(Locale.ROOT, "xpfo bench on %s, %d CPUs, kernel %s%n", System.getProperty("os.arch"),
                Runtime.getRuntime().availableProcessors(), Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
        Results results = new Results();
        for (String suite : suites) {
            switch (suite.trim()) {
                case "populate" -> new PopulateSuite(bytes, c).run(results, rounds);
                case "small" -> new SmallSecretsSuite(smallOps, slowOps, c).run(results, rounds);
                case "bulk" -> new BulkSuite(bytes).run(results, rounds);
                case "crypto" -> new CryptoSuite(cryptoMillis, cryptoHookBaseline).run(results, rounds);
                case "grant" -> new GrantSuite(Bytes.roundUp(Bytes.parse(grantSize), 2L << 20), rateGrants).run(results, rounds);
                case "vm" -> {
                    if (vmGuest == null || vmPreload == null || !Files.exists(vmGuest.resolve("vmlinuz"))
                            || !Files.exists(vmPreload)) {
                        results.skipped("vm.boot.*", "no test guest or preload library (scripts/guest/build and "
                                + "./xpfo build prepare them; see the messages above)");
                    } else {
                        new VmBootSuite(vmGuest, vmPreload, Bytes.parse(vmRam)).run(results, rounds);
                    }
                }
                default -> throw new CommandLine.ParameterException(new CommandLine(this),
                        "unknown suite '" + suite + "': choose from populate, small, bulk, grant, vm, crypto");
            }
        }
        results.print(System.out);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("suites", String.join(",", suites));
        settings.put("bytes", bytes);
        settings.put("rounds", rounds);
        settings.put("small_ops", smallOps);
        settings.put("slow_ops", slowOps);
        settings.put("grant_size", grantSize);
        settings.put("vm_ram", vmRam);
        settings.put("crypto_millis", cryptoMillis);
        settings.put("cpus", Runtime.getRuntime().availableProcessors());
        if (json != null) {
            results.writeJson(json, settings);
            System.out.println("results written to " + json);
        }
        if (plot != null) {
            BarChart.write(results, plot);
            System.out.println("chart drawn to " + plot);
        }
        return 0;
    }

    /** Writes a byte to every page: what a program does on first use, and what allocates anonymous memory. */
    static void touch(MemorySegment memory) {
        for (long offset = 0; offset < memory.byteSize(); offset += PAGE) {
            memory.set(ValueLayout.JAVA_BYTE, offset, (byte) 1);
        }
    }
}
