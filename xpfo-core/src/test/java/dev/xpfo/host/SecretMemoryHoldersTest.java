// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** A scan takes for secret memory exactly the kernel's secret memory files, nothing named like them. */
class SecretMemoryHoldersTest {
    /** makedev(0, 0x0d): an anonymous kernel mount's device, as secret memory's is. */
    private static final DeviceNumber DEVICE = DeviceNumber.of(0x0d);

    @Test
    void onlyTheKernelsNameOnTheKernelsDeviceIsSecretMemory() {
        Set<Long> inodes = SecretMemoryHolders.mapped(MapsEntry.parseAll("""
                7f0000000000-7f0000200000 rw-s 00000000 00:0d 1001                       /secretmem (deleted)
                7f0000200000-7f0000201000 rw-s 00000000 00:2e 1002                       /tmp/decoy/secretmem-1
                7f0000201000-7f0000202000 rw-s 00000000 00:2e 1003                       /secretmem (deleted)
                7f0000202000-7f0000203000 rw-s 00000000 00:0d 1004                       /secretmem (deleted) x
                7f0000203000-7f0000204000 rw-s 00000000 00:0d 1005                       /dev/shm/secretmem
                7f0000204000-7f0000205000 rw-p 00000000 00:00 0
                """), DEVICE);
        assertThat(inodes).containsExactly(1001L);
    }

    @Test
    void theDeviceIsTheKernelsAndAScanFindsThisProcesssOwnFilesByIt() {
        SecretMemory.assumeAvailable();
        long device = SecretMemoryHolders.device();
        assertThat(DeviceNumber.of(device).major()).as("an anonymous kernel mount").isZero();
        try (XpfoFile open = XpfoFile.create(1L << 20); XpfoFile mapped = XpfoFile.create(1L << 20);
             Mapping mapping = mapped.map()) {
            long mappedInode = mapped.inode();
            mapped.close(); // held through its mapping alone now
            assertThat(mapping.segment().byteSize()).isPositive();
            assertThat(SecretMemoryHolders.scan(device).inodes()).contains(open.inode(), mappedInode);
        }
    }

    @Test
    void majorAndMinorAreGlibcs() {
        long[][] cases = {{0, 0x0d}, {8, 1}, {0x123, 0x45}, {0x1234, 0x56789}};
        for (long[] c : cases) {
            long device = ((c[0] & 0xfff) << 8) | ((c[0] & ~0xfffL) << 32) | (c[1] & 0xff) | ((c[1] & ~0xffL) << 12);
            assertThat(DeviceNumber.of(device)).isEqualTo(new DeviceNumber(c[0], c[1]));
            assertThat(new DeviceNumber(c[0], c[1]).value()).isEqualTo(device);
        }
    }
}
