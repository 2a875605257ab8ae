// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.xpfo.host.CoreScheduling;
import dev.xpfo.host.CoreSchedulingSupport;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code xpfo vm} and {@code xpfo run} refuse before starting anything, and say why. */
class VmCommandsTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    /** A stand-in for QEMU that leaves a file behind if it is ever started. */
    private static Path fakeQemu(Path directory) throws IOException {
        Path script = directory.resolve("qemu-system-x86_64");
        Files.writeString(script, "#!/bin/sh\ntouch \"$0.ran\"\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private static boolean ran(Path qemu) {
        return Files.exists(Path.of(qemu + ".ran"));
    }

    @Test
    void aCommandLineThatCannotRunFromSecretMemoryIsRefusedWithEveryReasonAndNothingStarts(@TempDir Path directory)
            throws IOException {
        Path qemu = fakeQemu(directory);
        CliRun run = run("vm", "--ram", "secretmem", "--", qemu.toString(), "-enable-kvm", "-m", "1G",
                "-device", "vhost-vsock-pci,guest-cid=3", "-drive", "file=d.img,cache=none");
        assertThat(run.exitCode()).isEqualTo(Main.FAILED);
        assertThat(run.out()).contains("xpfo vm: refused, QEMU not started:")
                .contains("- accelerator kvm: KVM cannot run a guest from secret memory")
                .contains("fix: use -accel tcg")
                .contains("- -device vhost-vsock-pci,guest-cid=3:")
                .contains("xpfo vm: rewrote: -drive file=d.img,cache=none: cache=none -> cache=writeback");
        assertThat(ran(qemu)).isFalse();
    }

    @Test
    void withoutARunningServiceItRefusesAndPointsAtTheColdAlternative(@TempDir Path directory) throws IOException {
        Path qemu = fakeQemu(directory);
        CliRun run = run("vm", "--socket", directory.resolve("none.sock").toString(), "--", qemu.toString(), "-m", "64M");
        assertThat(run.exitCode()).isEqualTo(Main.FAILED);
        assertThat(run.out()).contains("refused, QEMU not started: no xpfo serve to take guest RAM from")
                .contains("--ram secretmem");
        assertThat(ran(qemu)).isFalse();
    }

    @Test
    void aUserWhoseMemlockLimitCannotHoldTheGuestRamIsToldBeforeQemuStarts(@TempDir Path directory) throws Exception {
        Path qemu = fakeQemu(directory);
        directory.toFile().setExecutable(true, false);
        TestJvm.Result run = TestJvm.runUnprivileged(8L << 20, Main.class, "vm", "--ram", "secretmem", "--",
                qemu.toString(), "-m", "64M");
        assertThat(run.exitCode()).isEqualTo(Main.FAILED);
        assertThat(run.output()).contains("refused, QEMU not started: guest RAM of 64 MiB would exceed RLIMIT_MEMLOCK")
                .contains("ulimit -l").contains("CAP_IPC_LOCK");
        assertThat(ran(qemu)).isFalse();
    }

    /**
     * Issue 11: arguments that start like JSON where QEMU 7.2 reads key=value hid guest RAM on a file,
     * KVM, a vhost device and vhost-net from the check; each ran QEMU as printed by --dry-run.
     */
    @Test
    void argumentsThatOnlyLookLikeJsonAreRefusedByDryRun(@TempDir Path directory) throws IOException {
        Path qemu = fakeQemu(directory);
        org.assertj.core.api.SoftAssertions softly = new org.assertj.core.api.SoftAssertions();
        for (List<String> smuggled : List.of(
                List.of("-m", "64M", "-machine", "{\"memory-backend\":\"none,type=pc,x-oem-id=\"}"),
                List.of("-m", "64M", "-object", " {\"k\":\"v,qom-type=memory-backend-file,id=r0,size=64M,share=on,"
                        + "mem-path=ram.img\"}", "-machine", "memory-backend=r0"),
                List.of("-m", "64M", "-machine", "{\"x\":\"y,type=pc,accel=kvm,x-oem-id=\"}"),
                List.of("-m", "64M", "-device", " {\"driver\":\"virtio-rng-pci,driver=vhost-vsock-pci,guest-cid=3,romfile=\"}"),
                List.of("-m", "64M", "-netdev", " {\"type\":\"user,type=tap,id=n0,vhost=on,script=no,ifname=\"}"))) {
            List<String> args = new java.util.ArrayList<>(List.of("vm", "--dry-run", "--", qemu.toString()));
            args.addAll(smuggled);
            CliRun run = run(args.toArray(String[]::new));
            softly.assertThat(run.exitCode()).as("%s\n%s", smuggled, run.out()).isEqualTo(Main.FAILED);
            softly.assertThat(run.out()).as("%s", smuggled).contains("xpfo vm: refused, QEMU not started: cannot read the command line")
                    .contains("reads it as key=value").doesNotContain(qemu + " -m 64M");
        }
        softly.assertAll();
        assertThat(ran(qemu)).isFalse();
    }

    /** REVIEW.md finding 6: {@code -m size=-1} was accepted as "guest RAM (-1040384 B)" and exited 0. */
    @Test
    void aNegativeRamSizeIsRefusedByDryRun(@TempDir Path directory) throws IOException {
        Path qemu = fakeQemu(directory);
        CliRun run = run("vm", "--dry-run", "--", qemu.toString(), "-m", "size=-1");
        assertThat(run.exitCode()).as(run.out()).isEqualTo(Main.FAILED);
        assertThat(run.out()).contains("xpfo vm: refused, QEMU not started").contains("negative")
                .doesNotContain("-1040384").doesNotContain("Exception");
        assertThat(ran(qemu)).isFalse();
    }

    /** REVIEW.md findings 1, 2, 3, 10: the review's command lines, each refused before QEMU starts. */
    @Test
    void theReviewsMonitorPluginLogAndMigrationLinesAreRefusedByDryRun(@TempDir Path directory) throws IOException {
        Path qemu = fakeQemu(directory);
        for (List<String> line : List.of(
                List.of("-chardev", "socket,id=m,path=xpfo-mon-abs,abstract=on,server=on,wait=off", "-mon", "chardev=m"),
                List.of("-monitor", "vc", "-vnc", ":7"), List.of("-plugin", "/tmp/libcopy.so"),
                List.of("-d", "cpu,fpu", "-D", "/tmp/qemu.log"), List.of("-incoming", "tcp:0:4444"))) {
            List<String> args = new java.util.ArrayList<>(List.of("vm", "--dry-run", "--", qemu.toString(), "-m", "64M"));
            args.addAll(line);
            CliRun run = run(args.toArray(String[]::new));
            assertThat(run.exitCode()).as("%s\n%s", line, run.out()).isEqualTo(Main.FAILED);
            assertThat(run.out()).as("%s", line).contains("refused");
        }
        assertThat(ran(qemu)).isFalse();
    }

    @Test
    void dryRunPrintsTheCommandLineItWouldRunQuotedForAShell(@TempDir Path directory) throws IOException {
        Path qemu = fakeQemu(directory);
        CliRun run = run("vm", "--dry-run", "--", qemu.toString(), "-m", "256M", "-append", "console=ttyS0 quiet",
                "-drive", "file=d.img,aio=io_uring");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains(qemu + " -m 256M -append 'console=ttyS0 quiet' -drive file=d.img,aio=threads "
                + "-no-user-config -accel tcg -object memory-backend-memfd,id=xpfo-ram,size=268435456,share=on,seal=off "
                + "-machine memory-backend=xpfo-ram");
        assertThat(ran(qemu)).isFalse();
    }

    @Test
    void coreIsolationIsRefusedOnAKernelWithoutCoreSchedulingUnlessWaived(@TempDir Path directory) {
        CoreSchedulingSupport support = CoreSchedulingSupport.probe();
        assumeTrue(support.reason().contains("EINVAL"), "this kernel has core scheduling: " + support.reason());
        Path marker = directory.resolve("started");

        CliRun refused = run("run", "--core-isolate", "--", "touch", marker.toString());
        assertThat(refused.exitCode()).isEqualTo(Main.FAILED);
        assertThat(refused.out()).contains("refused --core-isolate, nothing started")
                .contains("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE) failed with EINVAL")
                .contains("CONFIG_SCHED_CORE").contains("--allow-shared-cores");
        assertThat(marker).doesNotExist();

        CliRun vm = run("vm", "--core-isolate", "--ram", "secretmem", "--", fakeQemuOrFail(directory), "-m", "64M");
        assertThat(vm.exitCode()).isEqualTo(Main.FAILED);
        assertThat(vm.out()).contains("refused --core-isolate");

        CliRun waived = run("run", "--core-isolate", "--allow-shared-cores", "--", "touch", marker.toString());
        assertThat(waived.exitCode()).isZero();
        assertThat(waived.out()).contains("WARNING: NOT core-isolated (--allow-shared-cores)");
        assertThat(marker).exists();
    }

    @Test
    void asRootAuditSeesEveryonesSecretMemoryAndAsAUserOnlyItsOwn() throws Exception {
        assumeTrue(TestJvm.isRoot(), "needs root to compare the two scopes");
        try (XpfoFile file = XpfoFile.create(2L << 20)) {
            file.populate();
            String me = "pid " + ProcessHandle.current().pid() + " ";

            TestJvm.Result root = TestJvm.run(Main.class, "audit");
            assertThat(root.output()).contains("scope: the whole host (run as root)");
            // This JVM may hold other secret memory besides the file above (left by earlier tests in this JVM):
            // the audit must count this process with at least that file.
            java.util.regex.Matcher mine = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(me)
                    + "\\S+ \\(uid 0\\): (\\d+) MiB in (\\d+) files?,").matcher(root.output());
            assertThat(mine.find()).as(root.output()).isTrue();
            assertThat(Long.parseLong(mine.group(1))).isGreaterThanOrEqualTo(2);
            assertThat(Integer.parseInt(mine.group(2))).isGreaterThanOrEqualTo(1);

            TestJvm.Result user = TestJvm.runUnprivileged(8L << 20, Main.class, "audit");
            assertThat(user.output()).contains("scope: only uid " + TestJvm.NOBODY + "'s own processes (not root")
                    .doesNotContain(me).doesNotContain("(uid 0)");
        }
    }

    private static String fakeQemuOrFail(Path directory) {
        try {
            return fakeQemu(directory).toString();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void runNeedsSomethingToDo() {
        CliRun run = run("run", "--", "true");
        assertThat(run.exitCode()).isEqualTo(Main.FAILED);
        assertThat(run.out()).contains("nothing to do: pass --core-isolate");
    }

    @Test
    void coreIsolatedCommandsGetACookieOfTheirOwn() throws Exception {
        CoreSchedulingSupport support = CoreSchedulingSupport.probe();
        assumeTrue(support.available(), "core scheduling is not available here, so its success path cannot run: "
                + support.reason());
        Process launcher = new ProcessBuilder(TestJvm.command(Main.class, "run", "--core-isolate", "--", "sleep", "30"))
                .redirectErrorStream(true).start();
        try {
            Optional<ProcessHandle> sleeper = Optional.empty();
            for (long end = System.nanoTime() + Duration.ofSeconds(30).toNanos(); sleeper.isEmpty() && System.nanoTime() < end; ) {
                sleeper = launcher.descendants().filter(p -> p.info().command().orElse("").endsWith("sleep")).findFirst();
                Thread.sleep(50);
            }
            assertThat(sleeper).isPresent();
            long cookie = CoreScheduling.cookie(sleeper.get().pid());
            assertThat(cookie).isNotZero().isNotEqualTo(CoreScheduling.cookie(ProcessHandle.current().pid()));
        } finally {
            launcher.descendants().forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
    }

    @Test
    void auditNamesItsScopeTheCpuAndAVerdictForTheHost() throws Exception {
        // In a PID namespace of its own, with its own /proc, the audit (root there) sees that namespace only, and no
        // VM in it (other tests on this machine may run QEMU): nothing exposed (exit 3), nothing unknown (exit 4), so 0.
        List<String> command = new java.util.ArrayList<>(TestJvm.isRoot()
                ? List.of("unshare", "--pid", "--fork", "--mount-proc")
                : List.of("unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"));
        command.addAll(TestJvm.command(Main.class, "audit"));
        Child.Result alone = Child.run(command, Duration.ofSeconds(120));
        assertThat(alone.exitCode()).as(alone.output()).isZero();
        assertThat(alone.output()).contains("scope: this PID namespace only").contains("VMs (0):")
                .contains("SMT: control ")
                .contains("CPU vulnerabilities").contains("verdict: host: ").contains("verdict: cores: ");
        CliRun run = run("audit");
        assertThat(run.out()).contains(TestJvm.isRoot() ? "scope: the whole host (run as root)" : "scope: only uid ");
        JsonNode json = run("audit", "--json").json();
        for (String key : List.of("scope", "whole_host", "vms", "secret_holders", "not_inspected", "vulnerabilities", "smt",
                "core_scheduling", "verdicts")) {
            assertThat(json.has(key)).as(key).isTrue();
        }
        assertThat(json.get("whole_host").asBoolean()).isEqualTo(TestJvm.isRoot());
        assertThat(json.get("verdicts").get(0).asText()).startsWith("host: ");
    }
}
