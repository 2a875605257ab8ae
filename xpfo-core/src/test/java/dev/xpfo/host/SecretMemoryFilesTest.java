// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Secret memory is the kernel's name on the kernel's device, for a mapping and for a descriptor:
 * never a look-alike name, never the right name on another file system.
 */
class SecretMemoryFilesTest {
    private static final DeviceNumber SECRET = new DeviceNumber(0, 0x0d);
    private static final DeviceNumber TMPFS = new DeviceNumber(0, 0x2e);

    @Test
    void aMappingIsSecretMemoryOnlyByTheExactNameOnTheSecretDevice() {
        assertThat(SecretMemoryFiles.isSecretMemory(mapping("/secretmem (deleted)", SECRET), SECRET)).isTrue();
        for (String lookAlike : List.of("/secretmem-1", "/secretmem", "/secretmem (deleted) ", "/secretmem (deleted) x",
                "/dev/shm/secretmem (deleted)", "/secretmem-1 (deleted)", " /secretmem (deleted)", "")) {
            assertThat(SecretMemoryFiles.isSecretMemory(mapping(lookAlike, SECRET), SECRET)).as(lookAlike).isFalse();
        }
        assertThat(SecretMemoryFiles.isSecretMemory(mapping("/secretmem (deleted)", TMPFS), SECRET))
                .as("the right name on another device").isFalse();
    }

    @Test
    void aDescriptorIsSecretMemoryOnlyByTheExactNameOnTheSecretDevice() {
        assertThat(SecretMemoryFiles.isSecretMemory(new OpenFile("/secretmem (deleted)", SECRET, 7, 4096), SECRET)).isTrue();
        assertThat(SecretMemoryFiles.isSecretMemory(new OpenFile("/secretmem (deleted)", TMPFS, 7, 4096), SECRET)).isFalse();
        assertThat(SecretMemoryFiles.isSecretMemory(new OpenFile("/secretmem-1", SECRET, 7, 4096), SECRET)).isFalse();
        assertThat(SecretMemoryFiles.isSecretMemory(new OpenFile("/secretmem", SECRET, 7, 4096), SECRET)).isFalse();
    }

    @Test
    void thisKernelsSecretMemoryFileIsRecognisedMappedAndOpenAndAnOrdinaryFileIsNot() throws Exception {
        SecretMemory.assumeAvailable();
        DeviceNumber device = SecretMemoryFiles.device();
        assertThat(device.major()).as("the kernel's internal mount").isZero();
        try (XpfoFile file = XpfoFile.create(1L << 20); Mapping mapping = file.map()) {
            OpenFile open = OpenFile.of(Path.of("/proc/self/fd/" + file.fd()));
            assertThat(open.inode()).isEqualTo(file.inode());
            assertThat(open.size()).isEqualTo(1L << 20);
            assertThat(SecretMemoryFiles.isSecretMemory(open)).isTrue();
            MapsEntry mapped = new ProcessDirectory(ProcessHandle.current().pid()).maps().stream()
                    .filter(e -> e.contains(mapping.segment().address())).findFirst().orElseThrow();
            assertThat(mapped.isSecretMemory()).isTrue();
            assertThat(mapped.inode()).isEqualTo(file.inode());
        }
        OpenFile ordinary = OpenFile.of(Path.of("/proc/self/exe"));
        assertThat(SecretMemoryFiles.isSecretMemory(ordinary)).isFalse();
    }

    private static MapsEntry mapping(String path, DeviceNumber device) {
        return new MapsEntry(0x7f0000000000L, 0x7f0000200000L, "rw-s", 0, device, 1001, path, List.of());
    }
}
