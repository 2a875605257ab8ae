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
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root) {
            assertThat(limit.capIpcLock()).as("root holds CAP_IPC_LOCK").isTrue();
        }
    }

    @Test
    void directMapStateIsTheKernelsMeminfoAndVmstat() {
        DirectMapState state = DirectMapState.read();
        String meminfo = ProcFiles.read(Path.of("/proc/meminfo"));
        assertThat(state.bytes4k()).isEqualTo(ProcFiles.kilobytes(ProcFiles.field(meminfo, "DirectMap4k").orElseThrow()));
        assertThat(state.bytes2m()).isEqualTo(ProcFiles.kilobytes(ProcFiles.field(meminfo, "DirectMap2M").orElseThrow()));
        Map<String, Long> vmstat = ProcFiles.counters(ProcFiles.read(Path.of("/proc/vmstat")));
        if (vmstat.containsKey("direct_map_level2_splits")) {
            assertThat(state.level2Splits()).isGreaterThanOrEqualTo(0)
                    .isLessThanOrEqualTo(DirectMapState.read().level2Splits());
        }
    }

    @Test
    void everyReportedVulnerabilityIsTheKernelsText() {
        CpuExposure cpu = CpuExposure.read();
        Path dir = Path.of("/sys/devices/system/cpu/vulnerabilities");
        if (Files.isDirectory(dir)) {
            assertThat(cpu.vulnerabilities()).containsKey("meltdown");
            cpu.vulnerabilities().forEach((name, text) ->
                    assertThat(text).isEqualTo(ProcFiles.read(dir.resolve(name)).trim()));
        }
        assertThat(cpu.smtControl()).isIn("on", "off", "forceoff", "notsupported", "notimplemented", "unknown");
    }

    @Test
    void coreSchedulingIsReportedWithTheKernelsAnswer() {
        CoreSchedulingSupport support = CoreSchedulingSupport.probe();
        if (!support.available()) {
            assertThat(support.reason()).startsWith("prctl(PR_SCHED_CORE) failed with E");
        }
        // This machine's kernel is built without CONFIG_SCHED_CORE, and its CPU has no SMT.
        if (ProcFiles.read(Path.of("/sys/devices/system/cpu/smt/control")).trim().equals("notsupported")) {
            assertThat(support.available()).isFalse();
        }
    }

    @Test
    void kvmAbsenceIsReportedAsSuch() {
        KvmSupport kvm = KvmSupport.probe();
        assertThat(kvm.present()).isEqualTo(Files.exists(Path.of("/dev/kvm")));
        if (!kvm.present()) {
            assertThat(kvm.guestMemfd()).isFalse();
            assertThat(kvm.noDirectMap()).isFalse();
            assertThat(kvm.detail()).contains("/dev/kvm does not exist");
        }
    }

    @Test
    void secretMemoryProbeAgreesWithTheProbeAsAWhole() {
        HostProbe probe = HostProbe.run();
        assertThat(probe.secretMemory().available()).isEqualTo(SecretMemorySupport.probe().available());
        assertThat(probe.kernel()).isEqualTo(ProcFiles.read(Path.of("/proc/sys/kernel/osrelease")).trim());
        if (!probe.secretMemory().available()) {
            assertThat(probe.secretMemory().errnoName()).isNotNull();
        }
    }
}
