// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.SecretMemoryFiles;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What lets a guest run: QEMU's own account of its RAM blocks (here as QEMU 7.2.22 printed it)
 * matched exactly against its mappings; secret memory is the kernel's name and device, never a
 * look-alike.
 */
class GuestRamCheckTest {
    private static final DeviceNumber SECRET_DEVICE = DeviceNumber.parse("00:0e");
    private static final long MIB = 1L << 20;
    private static final long BASE = 0x7f8b97fff000L;

    /** From {@code info ramblock} of qemu-system-x86_64 7.2.22 with two NUMA backends. */
    private static final String RAMBLOCK = """
                          Block Name    PSize              Offset               Used              Total\r
                                  m0    4 KiB  0x0000000000000000 0x0000000002000000 0x0000000002000000\r
                                  m1    4 KiB  0x0000000002000000 0x0000000002000000 0x0000000002000000\r
               0000:00:02.0/vga.vram    4 KiB  0x0000000004080000 0x0000000001000000 0x0000000001000000\r
                             pc.bios    4 KiB  0x0000000004000000 0x0000000000040000 0x0000000000040000\r
            """;
    /** The memory address space of {@code info mtree -f} there. */
    private static final String FLAT = """
            FlatView #0
             AS "memory", root: system
             AS "cpu-memory-0", root: system
             Root memory region: system
              0000000000000000-000000000009ffff (prio 0, ram): m0
              00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
              00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000
              0000000000100000-0000000001ffffff (prio 0, ram): m0 @0000000000100000
              0000000002000000-0000000003ffffff (prio 0, ram): m1
              00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios

            FlatView #1
             AS "I/O", root: io
              0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
            """;

    @Test
    void qemusTablesAreReadAsPrinted() throws Exception {
        assertThat(QemuRamView.ramBlocks(RAMBLOCK)).containsExactly(Map.entry("m0", 32 * MIB), Map.entry("m1", 32 * MIB),
                Map.entry("0000:00:02.0/vga.vram", 16 * MIB), Map.entry("pc.bios", 256L << 10));
        Map<String, long[]> ranges = QemuRamView.flatRanges(FLAT);
        assertThat(ranges.get("m0")).containsExactly(0, 0);
        assertThat(ranges.get("m1")).containsExactly(0x2000000, 0);
        assertThat(ranges.get("pc.bios")).containsExactly(0xe0000, 0x20000);
        assertThat(ranges).doesNotContainKey("dma-chan");
    }

    @Test
    void guestRamEntirelyInSecretMemoryLetsTheGuestRun() {
        GuestRamCheck check = GuestRamCheck.of(view(), List.of(
                mapping(BASE, 32 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE),
                mapping(BASE + 32 * MIB, 16 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE),
                mapping(BASE + 48 * MIB, 16 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE),
                mapping(0x7f0000000000L, 256L << 10, "", DeviceNumber.parse("00:00"))), SECRET_DEVICE);
        assertThat(check.problems()).isEmpty();
        assertThat(check.guestRamBytes()).isEqualTo(64 * MIB);
        assertThat(check.lines()).contains("guest RAM block 'm1' (32 MiB) at 0x7f8b99fff000-0x7f8b9bfff000: secret memory "
                + "(/secretmem (deleted), device 00:0e, 2 mappings)",
                "RAM block 'pc.bios' (256 KiB): not guest RAM (device or firmware memory), ordinary memory at "
                        + "0x7f0000000000-0x7f0000040000",
                "RAM block '0000:00:02.0/vga.vram' (16 MiB): not guest RAM (device or firmware memory), ordinary memory, "
                        + "not mapped into the guest now");
    }

    @Test
    void aLookAlikeOfSecretMemoryOrAHoleIsNotSecretMemory() {
        for (MapsEntry impostor : List.of(
                mapping(BASE + 32 * MIB, 32 * MIB, SecretMemoryFiles.NAME, DeviceNumber.parse("00:2a")),   // a file called /secretmem, deleted
                mapping(BASE + 32 * MIB, 32 * MIB, "/secretmem-1", SECRET_DEVICE),
                mapping(BASE + 32 * MIB, 32 * MIB, "/dev/shm/secretmem (deleted)", DeviceNumber.parse("00:19")))) {
            GuestRamCheck check = GuestRamCheck.of(view(), List.of(
                    mapping(BASE, 32 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE), impostor), SECRET_DEVICE);
            assertThat(check.protectedAll()).as(impostor.path()).isFalse();
            assertThat(check.problems()).singleElement().asString().startsWith("guest RAM block 'm1' (32 MiB): 32 MiB of it is "
                    + "ordinary memory (" + impostor.path());
        }
        GuestRamCheck hole = GuestRamCheck.of(view(), List.of(mapping(BASE, 32 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE),
                mapping(BASE + 32 * MIB, 31 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE)), SECRET_DEVICE);
        assertThat(hole.problems()).singleElement().asString().contains("1 MiB of it is ordinary memory (nothing mapped)");
    }

    @Test
    void machineRamOutsideTheBackendsOrABackendWithoutABlockStopsTheGuest() {
        List<MapsEntry> secret = List.of(mapping(BASE, 64 * MIB, SecretMemoryFiles.NAME, SECRET_DEVICE));
        QemuRamView more = new QemuRamView(view().blocks(), view().memoryBackends(), 128 * MIB);
        assertThat(GuestRamCheck.of(more, secret, SECRET_DEVICE).problems())
                .anyMatch(p -> p.contains("128 MiB of machine RAM but only 64 MiB on memory backends"));
        QemuRamView unplaced = new QemuRamView(view().blocks(), Map.of("m0", 32 * MIB, "m1", 32 * MIB, "m2", 32 * MIB), 64 * MIB);
        assertThat(GuestRamCheck.of(unplaced, secret, SECRET_DEVICE).problems())
                .anyMatch(p -> p.contains("memory backend 'm2' has no RAM block"));
        QemuRamView none = new QemuRamView(List.of(), Map.of(), 0);
        assertThat(GuestRamCheck.of(none, secret, SECRET_DEVICE).problems()).contains("QEMU reports no guest RAM on a memory backend");
    }

    private static QemuRamView view() {
        return new QemuRamView(List.of(
                new QemuRamView.Block("m0", 32 * MIB, OptionalLong.of(BASE)),
                new QemuRamView.Block("m1", 32 * MIB, OptionalLong.of(BASE + 32 * MIB)),
                new QemuRamView.Block("0000:00:02.0/vga.vram", 16 * MIB, OptionalLong.empty()),
                new QemuRamView.Block("pc.bios", 256L << 10, OptionalLong.of(0x7f0000000000L))),
                Map.of("m0", 32 * MIB, "m1", 32 * MIB), 64 * MIB);
    }

    private static MapsEntry mapping(long start, long bytes, String name, DeviceNumber device) {
        return new MapsEntry(start, start + bytes, "rw-s", 0, device, 1234, name, List.of());
    }
}
