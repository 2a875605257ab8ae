// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One parser of {@code /proc/PID/maps} and {@code smaps}: every field as the kernel printed it, the path exactly. */
class MapsEntryTest {
    @Test
    void everyFieldOfALineIsRead() {
        MapsEntry entry = MapsEntry.parse("7f9756e6e000-7f9756ec5000 r-xp 0001a000 fe:01 329635                     "
                + "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assertThat(entry).isEqualTo(new MapsEntry(0x7f9756e6e000L, 0x7f9756ec5000L, "r-xp", 0x1a000,
                new DeviceNumber(0xfe, 1), 329635, "/usr/lib/x86_64-linux-gnu/libc.so.6", List.of()));
        assertThat(entry.bytes()).isEqualTo(0x57000);
        assertThat(entry.contains(0x7f9756e6e000L)).isTrue();
        assertThat(entry.contains(0x7f9756ec5000L)).isFalse();
        assertThat(entry.isShared()).isFalse();
    }

    @Test
    void anonymousMemoryHasAnEmptyPathWithOrWithoutPadding() {
        assertThat(MapsEntry.parse("7f0000204000-7f0000205000 rw-p 00000000 00:00 0").path()).isEmpty();
        assertThat(MapsEntry.parse("7f0000204000-7f0000205000 rw-p 00000000 00:00 0                          ").path()).isEmpty();
        assertThat(MapsEntry.parse("55913095e000-5591309a1000 rw-p 00000000 00:00 0                          [heap]").path())
                .isEqualTo("[heap]");
    }

    @Test
    void aPathKeepsItsSpacesItsTrailingSpaceAndTheDeletedSuffix() {
        String prefix = "7f0000000000-7f0000200000 rw-s 00000000 00:0d 1001                       ";
        assertThat(MapsEntry.parse(prefix + "/secretmem (deleted)").path()).isEqualTo("/secretmem (deleted)");
        assertThat(MapsEntry.parse(prefix + "/tmp/a  b/c d (deleted)").path()).isEqualTo("/tmp/a  b/c d (deleted)");
        assertThat(MapsEntry.parse(prefix + "/secretmem (deleted) ").path()).isEqualTo("/secretmem (deleted) ");
        assertThat(MapsEntry.parse(prefix + "/tmp/new\\012line").path()).isEqualTo("/tmp/new\\012line");
        // a long prefix leaves no padding: one space, then the path
        assertThat(MapsEntry.parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 123456789012345678 /x y").path())
                .isEqualTo("/x y");
    }

    @Test
    void smapsGivesEachMappingItsFlags() {
        List<MapsEntry> entries = MapsEntry.parseAll("""
                55913095e000-5591309a1000 rw-p 00000000 00:00 0                          [heap]
                Size:                268 kB
                THPeligible:           0
                VmFlags: rd wr mr mw me ac\s
                7f0000000000-7f0000200000 rw-s 00000000 00:0d 1001                       /secretmem (deleted)
                Size:               2048 kB
                VmFlags: rd wr sh mr mw me ms lo dd dc
                """);
        assertThat(entries).extracting(MapsEntry::path).containsExactly("[heap]", "/secretmem (deleted)");
        assertThat(entries.get(0).flags()).containsExactly("rd", "wr", "mr", "mw", "me", "ac");
        assertThat(entries.get(1).flags()).contains("lo", "dd", "dc");
        assertThat(entries.get(1).isShared()).isTrue();
    }

    @Test
    void aLineThatIsNotAMappingIsRefused() {
        for (String line : List.of("garbage", "7f00-7f01 rw-s", "7f00-7f01 rw-s zz 00:0d 1", "7f00-7f01 rw-s 0 000d 1 /x",
                "7f00-7f01 rw 0 00:0d 1 /x")) {
            assertThatThrownBy(() -> MapsEntry.parse(line)).as(line).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void thisProcesssMappingOfADeletedFileWithSpacesInItsNameIsReadBackExactly(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("odd name (deleted) ");
        Files.write(file, new byte[4096]);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, 4096);
            long inode = ((Number) Files.getAttribute(file, "unix:ino")).longValue();
            DeviceNumber device = DeviceNumber.of(((Number) Files.getAttribute(file, "unix:dev")).longValue());
            Files.delete(file);
            List<MapsEntry> maps = new ProcessDirectory(ProcessHandle.current().pid()).maps();
            assertThat(maps).filteredOn(e -> e.inode() == inode && e.device().equals(device)).singleElement()
                    .satisfies(e -> {
                        assertThat(e.path()).isEqualTo(file + " (deleted)");
                        assertThat(e.permissions()).isEqualTo("rw-s");
                        assertThat(e.bytes()).isEqualTo(4096);
                    });
            assertThat(mapped.capacity()).isEqualTo(4096); // keeps the mapping reachable until here
        }
    }
}
