// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.host.KvmSupport;
import dev.xpfo.memory.Bytes;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.service.Service;
import dev.xpfo.service.ServiceSettings;
import dev.xpfo.vm.Preflight;
import dev.xpfo.vm.QemuCommandLine;
import dev.xpfo.vm.QemuPreflight;
import dev.xpfo.vm.RamSource;
import dev.xpfo.vm.VmLauncher;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * VM start under QEMU/TCG, from launch until the guest has written every page it could get (the test
 * guest of scripts/guest: Linux, busybox and a program that fills free memory and prints a marker).
 * The same rewritten command line each time; only guest RAM differs (warm and cold are started the
 * way {@code xpfo vm} starts them: held, checked, then let run):
 * <ul>
 *   <li>{@code vm.boot.warm}: granted by a service (in this process) from its warm stock;</li>
 *   <li>{@code vm.boot.cold}: a secret memory file QEMU's process creates, so every page the guest
 *       touches first pays its removal from the direct map;</li>
 *   <li>{@code vm.boot.plain}: the memfd QEMU makes itself: ordinary memory, the baseline.</li>
 * </ul>
 */
final class VmBootSuite implements Suite {
    private static final Logger SERVICE_LOG = Logger.getLogger("dev.xpfo.service");
    private static final Pattern FILLED = Pattern.compile("xpfo-guest: filled (\\d+) MiB");
    private static final long CHUNK = 2L << 20;

    private final Path guest;
    private final Path preload;
    private final long ramBytes;

    /**
     * @param guest    the directory scripts/guest/build prepared
     * @param preload  the QEMU preload library
     * @param ramBytes guest RAM
     */
    VmBootSuite(Path guest, Path preload, long ramBytes) {
        this.guest = guest;
        this.preload = preload;
        this.ramBytes = ramBytes;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        SERVICE_LOG.setLevel(Level.WARNING);
        System.out.printf(Locale.ROOT, "vm: boots of a %s guest under QEMU/TCG, %d rounds + warm-up:", Bytes.format(ramBytes),
                rounds);
        Path socket = Files.createTempDirectory("xpfo-bench-vm").resolve("xpfo.sock");
        long stock = Bytes.roundUp(ramBytes, CHUNK) + (64L << 20);
        ServiceSettings settings = ServiceSettings.defaults(socket)
                .withPool(StockSettings.of(CHUNK, stock, 4 * stock, Runtime.getRuntime().availableProcessors()))
                .withQuota(new ServiceSettings.Quota(4 * stock, 0));
        Preflight plan = QemuPreflight.check(QemuCommandLine.parse(command()), () -> KvmSupport.probe());
        if (plan.refused()) {
            throw new IllegalStateException("the benchmark's own command line was refused: " + plan.refusals());
        }
        List<Integer> filledMiB = new ArrayList<>();
        try (Service service = Service.start(settings)) {
            VmLauncher warm = launcher(RamSource.SERVICE, socket);
            VmLauncher cold = launcher(RamSource.SECRETMEM, null);
            Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
            rows.put("vm.boot.warm", measured -> {
                settle(service);
                record(results, "vm.boot.warm", measured, boot(() -> warm.launch(plan, ProcessBuilder.Redirect.PIPE), filledMiB));
            });
            rows.put("vm.boot.cold", measured -> {
                settle(service);
                record(results, "vm.boot.cold", measured, boot(() -> cold.launch(plan, ProcessBuilder.Redirect.PIPE), filledMiB));
            });
            rows.put("vm.boot.plain", measured -> {
                settle(service);
                record(results, "vm.boot.plain", measured, boot(() -> new ProcessBuilder(plan.commandLine().words())
                        .redirectErrorStream(true).start(), filledMiB));
            });
            Suite.interleave(rounds, rows);
        } finally {
            SERVICE_LOG.setLevel(null);
        }
        results.add("vm.boot.guest_filled", "MiB", filledMiB.stream().mapToInt(Integer::intValue).min().orElse(0));
        double warmVsPlain = results.ratio("vm.boot.warm / vm.boot.plain", "vm.boot.warm", "vm.boot.plain");
        double coldVsWarm = results.ratio("vm.boot.cold / vm.boot.warm (warm is this much faster)", "vm.boot.cold",
                "vm.boot.warm");
        results.verdict(String.format(Locale.ROOT, "vm: warm within 1.15x of plain: %s (%.3fx); warm faster than cold: "
                + "%s (cold/warm %.3fx).", warmVsPlain <= 1.15 ? "met" : "MISSED", warmVsPlain,
                coldVsWarm > 1 ? "met" : "MISSED", coldVsWarm));
    }

    private VmLauncher launcher(RamSource source, Path socket) {
        return new VmLauncher(new VmLauncher.Settings(preload, source, socket, false, Duration.ofSeconds(30)),
                new PrintWriter(Writer.nullWriter()));
    }

    private List<String> command() {
        return List.of("qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", (ramBytes >> 20) + "M",
                "-kernel", guest.resolve("vmlinuz").toString(), "-initrd", guest.resolve("initramfs.cpio").toString(),
                "-append", "console=ttyS0 quiet panic=-1 init_on_alloc=0",
                "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot");
    }

    /** Starts QEMU, its output on a pipe. */
    @FunctionalInterface
    private interface Start {
        Process start() throws Exception;
    }

    /**
     * Seconds from starting QEMU to the guest's "filled" line; QEMU is stopped afterwards. For warm and
     * cold this includes what xpfo vm adds: QEMU starts held, its mappings are checked, then it is let run.
     */
    private static double boot(Start launch, List<Integer> filledMiB) throws Exception {
        long start = System.nanoTime();
        Process qemu = launch.start();
        try (BufferedReader console = new BufferedReader(new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8))) {
            List<String> seen = new ArrayList<>();
            for (String line; (line = console.readLine()) != null; ) {
                Matcher filled = FILLED.matcher(line);
                if (filled.find()) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    filledMiB.add(Integer.parseInt(filled.group(1)));
                    return seconds;
                }
                seen.add(line);
            }
            throw new IllegalStateException("the guest did not report its memory filled:\n" + String.join("\n", seen));
        } finally {
            qemu.destroy();
            if (!qemu.waitFor(20, TimeUnit.SECONDS)) {
                qemu.destroyForcibly();
            }
        }
    }

    /** The stock full and refill idle, so a warm boot takes only ready memory and no refill runs beside any boot. */
    private static void settle(Service service) throws InterruptedException {
        StockSettle.await(service);
        Thread.sleep(200);
    }

    private static void record(Results results, String row, boolean measured, double seconds) {
        if (measured) {
            results.add(row, "s", seconds);
        }
    }
}
