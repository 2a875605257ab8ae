// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import dev.xpfo.host.CpuExposure;
import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.OpenFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The audit counts as direct-map-free only the kernel's secret memory (its name on its device), and
 * sees every process it may read, however it names itself.
 */
class ProcessMemoryTest {
    private static final DeviceNumber SECRET = DeviceNumber.parse("00:0d");
    private static final long MIB = 1L << 20;
    private static final long SELF = ProcessHandle.current().pid();

    /** 64 MiB mapped from a file named like secret memory, 64 MiB from one on the wrong device, 2 MiB of the real thing. */
    private static final List<MapsEntry> MAPS = MapsEntry.parseAll("""
            7f0000000000-7f0004000000 rw-s 00000000 00:0d 1005                       /secretmem-1
            7f0004000000-7f0008000000 rw-s 00000000 00:2e 1006                       /secretmem (deleted)
            7f0008000000-7f0008200000 rw-s 00000000 00:0d 1001                       /secretmem (deleted)
            """);

    @Test
    void aLookAlikeOfSecretMemoryIsNotCountedAsSecretMemory() {
        ProcessMemory process = ProcessMemory.of(SELF, 0, "gpg-agent", List.of("gpg-agent"), MAPS,
                List.of(new OpenFile("/secretmem (deleted)", SECRET, 1001, 2 * MIB)), Optional.of(SECRET));
        assertThat(process.regions()).extracting(process::kind)
                .containsExactly(MappingKind.SHARED_FILE, MappingKind.SHARED_FILE, MappingKind.SECRET_MEMORY);
        assertThat(process.secretMappedBytes()).isEqualTo(2 * MIB);
        assertThat(process.secretFiles()).containsOnlyKeys(1001L);
    }

    @Test
    void aVmWhoseGuestRamIsALookAlikeIsReportedExposed() {
        ProcessMemory qemu = ProcessMemory.of(SELF, 0, "qemu-system-x86_64", List.of("qemu-system-x86_64", "-m", "128M"),
                MAPS, List.of(), Optional.of(SECRET));
        VmFinding finding = HostAudit.vm(qemu, Vmm.QEMU, CpuExposure.read());
        assertThat(finding.guestRamBytes()).isEqualTo(128 * MIB);
        assertThat(finding.directMapFreeBytes()).isEqualTo(2 * MIB);
        assertThat(finding.exposedBytes()).isEqualTo(126 * MIB);
        assertThat(finding.fullyDirectMapFree()).isFalse();
    }

    @Test
    void onAKernelWithoutSecretMemoryNothingIsSecretMemory() {
        ProcessMemory process = ProcessMemory.of(SELF, 0, "x", List.of("x"), MAPS, List.of(), Optional.empty());
        assertThat(process.secretMappedBytes()).isZero();
        assertThat(process.secretFiles()).isEmpty();
    }

    @Test
    void aProcessWhoseNameIsNotUtf8IsReadNotTakenForExited() throws Exception {
        Process child = new ProcessBuilder("sh", "-c", "printf '\\377' > /proc/self/comm; echo ready; read line; true").start();
        try {
            assertThat(child.inputReader().readLine()).isEqualTo("ready");
            assertThat(Files.readString(Path.of("/proc/" + child.pid() + "/comm"), java.nio.charset.StandardCharsets.ISO_8859_1))
                    .isEqualTo("\u00ff\n");
            assertThat(ProcessMemory.read(child.pid())).hasValueSatisfying(process -> {
                assertThat(process.pid()).isEqualTo(child.pid());
                assertThat(process.executable()).isIn("sh", "dash", "bash");
            });
        } finally {
            child.destroy();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
