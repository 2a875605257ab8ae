// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.audit.AuditReport;
import dev.xpfo.audit.HostAudit;
import dev.xpfo.audit.VmFinding;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.service.Service;
import dev.xpfo.service.ServiceSettings;
import dev.xpfo.testing.TestJvm;
import dev.xpfo.vm.testing.Console;
import dev.xpfo.vm.testing.Guest;
import dev.xpfo.vm.testing.HostView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Linux guest booted under QEMU/TCG writes a random marker across its RAM; the host then tries to
 * find it. With guest RAM from xpfo, reads of guest RAM through /proc/PID/mem fail and the marker is
 * nowhere in QEMU's readable memory; without xpfo, the same guest's marker is found (so the proof
 * can fail).
 */
class VmBootTest {
    private static final long RAM = Guest.RAM_MIB << 20;
    private static final Duration BOOT = Duration.ofMinutes(3);
    private static final Pattern FILLED = Pattern.compile("xpfo-guest: filled (\\d+) MiB with marker ([0-9a-f]{64})");
    private static final Pattern STARTED = Pattern.compile("xpfo vm: QEMU started \\(pid (\\d+)\\), held until its guest RAM is checked");

    private static Guest guest;
    private final List<Process> started = new ArrayList<>();

    @BeforeAll
    static void prepare() throws Exception {
        guest = Guest.prepared();
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (Process process : started) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void guestRamFromTheServiceIsUnreadableFromTheHostAndAuditedDirectMapFree(@TempDir Path directory) throws Exception {
        bootFromServiceAndProve(directory, List.of("xpfo-ram' \\(192 MiB\\) at 0x\\p{XDigit}+-0x\\p{XDigit}+: secret memory "
                + "\\(/secretmem \\(deleted\\), device \\p{XDigit}+:\\p{XDigit}+, 96 mappings\\)"), "-m", Guest.RAM_MIB + "M");
    }

    @Test
    void twoNumaNodesEachGetTheirOwnGrantAndBothAreCovered(@TempDir Path directory) throws Exception {
        long half = Guest.RAM_MIB / 2;
        bootFromServiceAndProve(directory, List.of("m0' \\(96 MiB\\) at .*: secret memory .*, 48 mappings\\)",
                        "m1' \\(96 MiB\\) at .*: secret memory .*, 48 mappings\\)"), "-m", Guest.RAM_MIB + "M",
                "-object", "memory-backend-memfd,id=m0,size=" + half + "M", "-numa", "node,memdev=m0",
                "-object", "memory-backend-memfd,id=m1,size=" + half + "M", "-numa", "node,memdev=m1");
    }

    /** Boots the guest with {@code ram} through xpfo vm and a service, then looks for its marker from the host. */
    private void bootFromServiceAndProve(Path directory, List<String> blocks, String... ram) throws Exception {
        ServiceSettings settings = ServiceSettings.defaults(directory.resolve("xpfo.sock"))
                .withPool(StockSettings.of(2L << 20, 256L << 20, 512L << 20, 2))
                .withQuota(new ServiceSettings.Quota(512L << 20, 0));
        try (Service service = Service.start(settings)) {
            service.pool().warm((done, total) -> { });
            Process launcher = launch(guest.qemu(ram), "--socket", settings.socket().toString());
            Console console = new Console(launcher.getInputStream());
            long qemu = Long.parseLong(console.await(STARTED, BOOT).group(1));
            for (String block : blocks) {
                console.await(Pattern.compile("xpfo vm: guest RAM block '" + block), BOOT);
            }
            console.await(Pattern.compile("RAM block 'pc.bios' \\(256 KiB\\): not guest RAM \\(device or firmware memory\\), "
                    + "ordinary memory at 0x"), BOOT);
            console.await(Pattern.compile("guest RAM 192 MiB: all of it secret memory \\(out of the direct map\\), from xpfo serve"), BOOT);
            Matcher filled = console.await(FILLED, BOOT);
            assertThat(Long.parseLong(filled.group(1))).as("MiB of guest RAM the marker covers").isGreaterThan(RAM / 2 >> 20);

            HostView view = HostView.of(qemu, HostView.pattern(filled.group(2)));
            assertThat(view.secretRegions()).as("guest RAM mappings (one per 2 MiB chunk)").isEqualTo((int) (RAM >> 21));
            assertThat(view.secretReadsFailed()).as("reads of guest RAM refused").isEqualTo(view.secretRegions());
            assertThat(view.bytesRead()).as("the rest of QEMU was read").isGreaterThan(64L << 20);
            assertThat(view.foundIn()).as("where the marker was found").isEmpty();

            VmFinding vm = finding(HostAudit.run(), qemu);
            assertThat(vm.guestRamBytes()).isEqualTo(RAM);
            assertThat(vm.directMapFreeBytes()).isEqualTo(RAM);
            assertThat(vm.exposedBytes()).isZero();
            assertThat(vm.verdict()).isEqualTo("QEMU pid " + qemu + ": all 192 MiB of guest RAM is direct-map-free");
            assertThat(audit()).contains("verdict: QEMU pid " + qemu + ": all 192 MiB of guest RAM is direct-map-free");

            launcher.destroy(); // SIGTERM: the launcher stops QEMU before it exits
            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(ProcessHandle.of(qemu).map(ProcessHandle::isAlive).orElse(false)).as("QEMU still running").isFalse();
        }
    }

    @Test
    void whenTheServiceCannotGiveWarmMemoryQemuFailsInsteadOfRunningOnOrdinaryMemory(@TempDir Path directory)
            throws Exception {
        ServiceSettings settings = ServiceSettings.defaults(directory.resolve("xpfo.sock"))
                .withPool(StockSettings.of(2L << 20, 16L << 20, 512L << 20, 2))
                .withQuota(new ServiceSettings.Quota(512L << 20, 0));
        try (Service service = Service.start(settings)) {
            service.pool().warm((done, total) -> { });
            Process launcher = launch(guest.qemu("-m", Guest.RAM_MIB + "M"), "--warm-only", "--socket",
                    settings.socket().toString());
            Console console = new Console(launcher.getInputStream());
            console.await(Pattern.compile("xpfo vm: no guest RAM from xpfo serve: POOL_EXHAUSTED"), BOOT);
            console.await(Pattern.compile("xpfo vm: QEMU exited with 1 before its guest RAM was in place"), BOOT);
            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(launcher.exitValue()).isEqualTo(1);
            assertThat(console.output()).doesNotContain("xpfo-guest: booted");
        }
    }

    @Test
    void aCommandLineWithItsOwnMinusSIsCheckedTheSameAndLeftHeldForTheUser() throws Exception {
        List<String> qemu = new ArrayList<>(guest.qemu("-m", Guest.RAM_MIB + "M"));
        qemu.add("-S");
        Process launcher = launch(qemu, "--ram", "secretmem");
        Console console = new Console(launcher.getInputStream());
        long pid = Long.parseLong(console.await(STARTED, BOOT).group(1));
        console.await(Pattern.compile("guest RAM 192 MiB: all of it secret memory"), BOOT);
        console.await(Pattern.compile("the command line has -S: the guest waits for cont on your monitor"), BOOT);
        assertThat(HostView.of(pid, new byte[] {1, 2, 3}).secretReadsFailed()).isEqualTo(1);
        assertThat(console.output()).doesNotContain("xpfo-guest");
    }

    @Test
    void coldSecretMemoryFromQemusOwnProcessHidesTheGuestToo() throws Exception {
        Process launcher = launch(guest.qemu("-m", Guest.RAM_MIB + "M"), "--ram", "secretmem");
        Console console = new Console(launcher.getInputStream());
        long qemu = Long.parseLong(console.await(STARTED, BOOT).group(1));
        console.await(Pattern.compile("guest RAM 192 MiB: secret memory created by QEMU's process"), BOOT);
        console.await(Pattern.compile("guest RAM block 'xpfo-ram' \\(192 MiB\\) at .*: secret memory .*, 1 mapping\\)"), BOOT);
        Matcher filled = console.await(FILLED, BOOT);

        HostView view = HostView.of(qemu, HostView.pattern(filled.group(2)));
        assertThat(view.secretRegions()).as("one secret memory file for all guest RAM").isEqualTo(1);
        assertThat(view.secretReadsFailed()).isEqualTo(1);
        assertThat(view.foundIn()).isEmpty();
        assertThat(finding(HostAudit.run(), qemu).fullyDirectMapFree()).isTrue();
    }

    @Test
    void withoutXpfoTheSameGuestsMarkerIsReadFromTheHostAndAuditSaysExposed() throws Exception {
        List<String> command = guest.qemu("-accel", "tcg", "-m", Guest.RAM_MIB + "M",
                "-object", "memory-backend-memfd,id=ram,size=" + Guest.RAM_MIB + "M,share=on", "-machine", "memory-backend=ram");
        Process qemu = new ProcessBuilder(command).redirectErrorStream(true).start();
        started.add(qemu);
        Matcher filled = new Console(qemu.getInputStream()).await(FILLED, BOOT);

        HostView view = HostView.of(qemu.pid(), HostView.pattern(filled.group(2)));
        assertThat(view.secretRegions()).isZero();
        assertThat(view.foundIn()).as("where the marker was found").contains("/memfd:memory-backend-memfd (deleted)");

        AuditReport report = HostAudit.run();
        VmFinding vm = finding(report, qemu.pid());
        assertThat(vm.exposedBytes()).isEqualTo(RAM);
        assertThat(vm.directMapFreeBytes()).isZero();
        assertThat(vm.verdict()).contains("192 MiB of 192 MiB guest RAM is in the direct map");
        assertThat(vm.mappings()).anyMatch(g -> g.name().equals("/memfd:memory-backend-memfd") && g.bytes() == RAM);
        assertThat(report.exposed()).isTrue();
        assertThat(report.verdicts().getFirst()).startsWith("host: 192 MiB of VM private memory is in the direct map");
        assertThat(Main.commandLine().setOut(new java.io.PrintWriter(java.io.Writer.nullWriter())).execute("audit"))
                .as("xpfo audit's exit status with an exposed VM").isEqualTo(3);
    }

    /** Starts {@code xpfo vm} with {@code options} in another JVM (as an operator would) for {@code qemu}. */
    private Process launch(List<String> qemu, String... options) throws Exception {
        List<String> words = new ArrayList<>(List.of("vm"));
        words.addAll(List.of(options));
        words.add("--");
        words.addAll(qemu);
        ProcessBuilder builder = new ProcessBuilder(TestJvm.command(Main.class, words.toArray(String[]::new)))
                .redirectErrorStream(true);
        builder.environment().put("XPFO_VM_PRELOAD", Guest.preload().toString());
        Process process = builder.start();
        started.add(process);
        return process;
    }

    private static VmFinding finding(AuditReport report, long pid) {
        return report.vms().stream().filter(vm -> vm.pid() == pid).findFirst()
                .orElseThrow(() -> new AssertionError("audit did not find QEMU pid " + pid + ": " + report.vms()));
    }

    private static String audit() {
        java.io.StringWriter out = new java.io.StringWriter();
        Main.commandLine().setOut(new java.io.PrintWriter(out)).execute("audit");
        return out.toString();
    }

    /**
     * QEMU runs non-dumpable (its /proc/PID/maps is then root's): an ordinary user's launcher still
     * checks its guest RAM, through the maps descriptor QEMU's preload library passes it.
     */
    @Test
    void anOrdinaryUsersLauncherChecksItsNonDumpableQemu() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.xpfo.testing.TestJvm.isRoot(), "needs root to run as uid 65534");
        Guest guest = Guest.prepared();
        // 4 MiB fits an ordinary user's 8 MiB memlock limit; the kernel cannot boot in it, and the guest's
        // triple fault ends QEMU (-no-reboot).
        dev.xpfo.testing.TestJvm.Result run = dev.xpfo.testing.TestJvm.runUnprivileged(8L << 20,
                Map.of("XPFO_VM_PRELOAD", Guest.preload().toString()), Main.class, "vm", "--ram", "secretmem",
                "--", "qemu-system-x86_64", "-m", "4M", "-display", "none", "-nodefaults", "-kernel", guest.kernel.toString(),
                "-append", "panic=-1", "-no-reboot");
        assertThat(run.output()).containsPattern("guest RAM block 'xpfo-ram' \\(4 MiB\\) at 0x\\p{XDigit}+-0x\\p{XDigit}+: "
                + "secret memory \\(/secretmem \\(deleted\\), device \\p{XDigit}+:\\p{XDigit}+, 1 mapping\\)")
                .contains("guest RAM 4 MiB: all of it secret memory (out of the direct map), created cold by QEMU's process");
        assertThat(run.exitCode()).as(run.output()).isZero();
    }
}
