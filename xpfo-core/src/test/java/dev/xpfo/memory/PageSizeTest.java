// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Architecture;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The page size xpfo uses everywhere is the kernel's own. */
class PageSizeTest {
    /** {@code AT_PAGESZ} in the auxiliary vector ({@code include/uapi/linux/auxvec.h}). */
    private static final long AT_PAGESZ = 6;

    @Test
    void isThePageSizeTheKernelGaveThisProcess() throws IOException {
        // The kernel's own word: the AT_PAGESZ entry of the auxiliary vector it built at exec.
        ByteBuffer auxv = ByteBuffer.wrap(Files.readAllBytes(Path.of("/proc/self/auxv"))).order(ByteOrder.nativeOrder());
        long kernels = -1;
        while (auxv.remaining() >= 16) {
            long type = auxv.getLong();
            long value = auxv.getLong();
            if (type == AT_PAGESZ) {
                kernels = value;
            }
        }
        assertThat(kernels).as("AT_PAGESZ in /proc/self/auxv").isPositive();
        assertThat(PageSize.BYTES).isEqualTo(kernels);
        if (Architecture.current() == Architecture.X86_64) {
            assertThat(PageSize.BYTES).as("x86-64's only base page size").isEqualTo(4096);
        }
    }

    @Test
    void countsPartPagesAsWholeOnes() {
        assertThat(PageSize.pagesIn(1)).isEqualTo(1);
        assertThat(PageSize.pagesIn(PageSize.BYTES)).isEqualTo(1);
        assertThat(PageSize.pagesIn(PageSize.BYTES + 1)).isEqualTo(2);
        assertThat(PageSize.pagesIn(0)).isZero();
    }
}
