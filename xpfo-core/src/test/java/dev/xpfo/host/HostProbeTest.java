// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The probe reports what the kernel's own files and calls say, not what it assumes. */
class HostProbeTest {

    @Test
    void memlockMatchesWhatTheKernelShowsInProcSelfLimits() throws Exception {
        MemlockLimit limit = MemlockLimit.current();
        String line = Files.readAllLines(Path.of("/proc/self/limits")).stream()
                .filter(l -> l.startsWith("Max locked memory")).findFirst().orElseThrow();
        String[] fields = line.substring("Max locked memory".length()).trim().split("\\s+");
        assertThat(limit.soft()).isEqualTo(fields[0].equals("unlimited") ? -1 : Long.parseLong(fields[0]));
        assertThat(limit.hard()).isEqualTo(fields[1].equals("unlimited") ? -1 : Long.parseLong(fields[1]));
        // The kernel's own record of this process: its effective capabilities (bit 14 is CAP_IPC_LOCK) and
        // what it has locked, whoever runs the test.
        String status = Files.readString(Path.of("/proc/self/status"));
        assertThat(limit.capIpcLock()).as("CAP_IPC_LOCK in CapEff of /proc/self/status")
                .isEqualTo(new java.math.BigInteger(statusField(status, "CapEff"), 16).testBit(14));
        assertThat(limit.lockedBytes()).isEqualTo(Long.parseLong(statusField(status, "VmLck").split("\\s+")[0]) * 1024);
    }

    @Test
    void directMapStateIsTheKernelsMeminfoAndVmstat() throws Exception {
        DirectMapState state = DirectMapState.read();
        Map<String, Long> meminfo = new java.util.HashMap<>(); // "DirectMap4k:    123456 kB"
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            String[] words = line.split("[:\\s]+");
            meminfo.put(words[0], Long.parseLong(words[1]) * 1024);
        }
        assertThat(state.bytes4k()).isEqualTo(meminfo.getOrDefault("DirectMap4k", -1L));
        assertThat(state.bytes2m()).isEqualTo(meminfo.getOrDefault("DirectMap2M", -1L));
        assertThat(state.bytes1g()).isEqualTo(meminfo.getOrDefault("DirectMap1G", -1L));
        // The counters are monotone: read between two reads of the probe, the kernel's value lies between them;
        // a kernel without them (not x86) is reported as -1.
        long before = state.level2Splits();
        String counter = Files.readAllLines(Path.of("/proc/vmstat")).stream()
                .filter(line -> line.startsWith("direct_map_level2_splits ")).findFirst().orElse("direct_map_level2_splits -1");
        long kernel = Long.parseLong(counter.split(" ")[1]);
        long after = DirectMapState.read().level2Splits();
        assertThat(kernel).isBetween(before, after);
    }

    @Test
    void everyReportedVulnerabilityIsTheKernelsText() throws Exception {
        CpuExposure cpu = CpuExposure.read();
        Path dir = Path.of("/sys/devices/system/cpu/vulnerabilities");
        Map<String, String> kernel = new java.util.TreeMap<>();
        if (Files.isDirectory(dir)) {
            try (java.util.stream.Stream<Path> files = Files.list(dir)) {
                for (Path file : files.toList()) {
                    kernel.put(file.getFileName().toString(), Files.readString(file).trim());
                }
            }
        }
        // Every file the kernel has, with its text, and nothing else (none at all on a kernel without the directory).
        assertThat(cpu.vulnerabilities()).isEqualTo(kernel);
        Path smt = Path.of("/sys/devices/system/cpu/smt/control");
        assertThat(cpu.smtControl()).isEqualTo(Files.exists(smt) ? Files.readString(smt).trim() : "unknown");
    }

    @Test
    void coreSchedulingIsReportedWithTheKernelsAnswer() throws Exception {
        CoreSchedulingSupport support = CoreSchedulingSupport.probe();
        // The kernel's build configuration decides first (the whole prctl is EINVAL without CONFIG_SCHED_CORE),
        // then whether there are sibling hyperthreads at all (ENODEV without SMT).
        Path smt = Path.of("/sys/devices/system/cpu/smt/active");
        boolean smtActive = Files.exists(smt) && Files.readString(smt).trim().equals("1");
        if (!kernelConfig().contains("CONFIG_SCHED_CORE=y")) {
            assertThat(support.available()).isFalse();
            assertThat(support.reason()).startsWith("prctl(PR_SCHED_CORE) failed with EINVAL").contains("CONFIG_SCHED_CORE");
        } else if (!smtActive) {
            assertThat(support.available()).isFalse();
            assertThat(support.reason()).startsWith("prctl(PR_SCHED_CORE) failed with ENODEV");
        } else {
            assertThat(support.available()).as(support.reason()).isTrue();
        }
    }

    @Test
    void kvmIsReportedAsTheDeviceAndTheKernelBuildHaveIt() throws Exception {
        KvmSupport kvm = KvmSupport.probe();
        boolean device = Files.exists(Path.of("/dev/kvm"));
        assertThat(kvm.present()).isEqualTo(device);
        // guest_memfd exists only in kernels built with it, and only where KVM itself is.
        boolean built = kernelConfig().contains("CONFIG_KVM_GUEST_MEMFD=y");
        assertThat(!kvm.guestMemfd() || (device && built)).as("guest_memfd reported only with /dev/kvm and "
                + "CONFIG_KVM_GUEST_MEMFD=y: %s", kvm).isTrue();
        assertThat(!kvm.noDirectMap() || kvm.guestMemfd()).as("no-direct-map guest_memfd implies guest_memfd").isTrue();
        assertThat(kvm.detail()).contains(device ? "KVM" : "/dev/kvm does not exist");
    }

    @Test
    void secretMemoryIsReportedAvailableExactlyWhenTheKernelOffersItToThisProcess() throws Exception {
        HostProbe probe = HostProbe.run();
        // What the kernel says another way: built in, enabled at boot, no seccomp filter in the way, and room
        // for one page under this process's memlock limit (or CAP_IPC_LOCK).
        Path enable = Path.of("/sys/module/secretmem/parameters/enable");
        String status = Files.readString(Path.of("/proc/self/status"));
        boolean capIpcLock = new java.math.BigInteger(statusField(status, "CapEff"), 16).testBit(14);
        String[] memlock = Files.readAllLines(Path.of("/proc/self/limits")).stream()
                .filter(l -> l.startsWith("Max locked memory")).findFirst().orElseThrow()
                .substring("Max locked memory".length()).trim().split("\\s+");
        long locked = Long.parseLong(statusField(status, "VmLck").split("\\s+")[0]) * 1024;
        boolean room = capIpcLock || memlock[0].equals("unlimited") || Long.parseLong(memlock[0]) - locked >= dev.xpfo.memory.PageSize.BYTES;
        boolean offered = kernelConfig().contains("CONFIG_SECRETMEM=y")
                && Files.exists(enable) && Files.readString(enable).trim().equals("Y")
                && statusField(status, "Seccomp").equals("0") && room;

        assertThat(probe.secretMemory().available()).as(probe.secretMemory().reason()).isEqualTo(offered);
        assertThat(probe.secretMemory().errnoName() == null).isEqualTo(offered);
        assertThat(probe.kernel()).isEqualTo(Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
    }

    private static String statusField(String status, String name) {
        return status.lines().filter(line -> line.startsWith(name + ":")).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in /proc/self/status"))
                .substring(name.length() + 1).trim();
    }

    /**
     * The running kernel's build configuration, from {@code /proc/config.gz} or {@code /boot/config-RELEASE};
     * the test is skipped where neither is readable, as the facts it checks against are then unknown.
     */
    private static java.util.Set<String> kernelConfig() throws Exception {
        Path proc = Path.of("/proc/config.gz");
        Path boot = Path.of("/boot/config-" + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
        String text;
        if (Files.isReadable(proc)) {
            try (java.io.InputStream in = new java.util.zip.GZIPInputStream(Files.newInputStream(proc))) {
                text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            }
        } else {
            org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(boot),
                    "skipped: neither /proc/config.gz nor " + boot + " says how this kernel was built");
            text = Files.readString(boot);
        }
        return java.util.Set.copyOf(text.lines().toList());
    }
}
