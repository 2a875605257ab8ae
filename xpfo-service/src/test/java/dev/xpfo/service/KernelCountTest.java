// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.host.MemoryCgroup;
import dev.xpfo.memory.PageSize;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the kernel's count may lag behind is allowed for, however long ago the pages were populated. */
class KernelCountTest {
    private static final long PAGE = PageSize.BYTES;

    @Test
    void pagesLeftInAnotherCpusLruBatchAreAllowedForWithNoTimeLimit() throws Exception {
        SecretMemory.assumeAvailable();
        try (MemoryCgroup cgroup = MemoryCgroup.join("xpfo-test-" + ProcessHandle.current().pid())) {
            assumeTrue(cgroup.counted(), "skipped: " + cgroup.why());
            long maximum = 64L << 20;
            // Its clock runs a minute ahead: whatever was populated, it was longer ago than the statistics'
            // flush period. The LRU batches may still hold pages.
            KernelCount kernel = new KernelCount(cgroup, maximum,
                    () -> System.nanoTime() + Duration.ofMinutes(1).toNanos());
            long lruBatches = 31L * Runtime.getRuntime().availableProcessors() * PAGE;
            assertThat(kernel.lag(0)).isGreaterThanOrEqualTo(lruBatches);
            kernel.countNow();
            assertThat(kernel.room(0)).as("room with nothing populated lately")
                    .isLessThanOrEqualTo(maximum - kernel.lastCounted() - lruBatches);
            kernel.close();
        }
    }
}
