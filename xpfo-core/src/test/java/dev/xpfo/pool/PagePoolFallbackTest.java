// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.linux.Errno;
import dev.xpfo.linux.FailureInjection;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.SecretMemoryUnavailableException;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * On a kernel without secret memory (simulated: {@code memfd_secret} fails with {@code ENOSYS} at the
 * binding), the default policy refuses, and the fallback happens only when chosen, loudly.
 */
class PagePoolFallbackTest {
    private static final PoolSettings SETTINGS = PoolSettings.defaults().withChunkBytes(256 * Bytes.KIB);

    @AfterEach
    void kernelAgain() {
        FailureInjection.clear();
    }

    @Test
    void byDefaultAPoolWithoutSecretMemoryIsRefusedWithTheReason() {
        FailureInjection.failMemfdSecret(Errno.ENOSYS);
        assertThatThrownBy(() -> PagePool.open(SETTINGS))
                .isInstanceOfSatisfying(SecretMemoryUnavailableException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOSYS))
                .hasMessageContaining("CONFIG_SECRETMEM");
    }

    @Test
    void aSeccompRefusalIsReportedAsSuch() {
        FailureInjection.failMemfdSecret(Errno.EPERM);
        assertThatThrownBy(() -> PagePool.open(SETTINGS)).isInstanceOf(SecretMemoryUnavailableException.class)
                .hasMessageContaining("seccomp");
    }

    @Test
    void whenAllowedThePoolFallsBackToLockedMemoryAndEveryRegionSaysSo() {
        FailureInjection.failMemfdSecret(Errno.ENOSYS);
        try (PagePool pool = PagePool.open(SETTINGS.withPolicy(IsolationPolicy.ALLOW_LOCKED_ONLY))) {
            assertThat(pool.isolation()).isEqualTo(Isolation.LOCKED_ONLY);
            assertThat(pool.fallbackReason()).contains("ENOSYS");
            assertThat(pool.stats().isolation()).isEqualTo(Isolation.LOCKED_ONLY);
            try (Region region = pool.take(2 * SETTINGS.chunkBytes())) {
                assertThat(region.isolation()).isEqualTo(Isolation.LOCKED_ONLY);
                region.segment().fill((byte) 7);
                MapsEntry mapping = Smaps.find(Path.of("/proc/self/smaps"), region.segment().address()).orElseThrow();
                assertThat(mapping.isSecretMemory()).isFalse();
                assertThat(mapping.flags()).contains("lo", "dd", "dc");
            }
        }
    }

    @Test
    void theFallbackIsAnnouncedOncePerProcessOnStandardError() throws Exception {
        TestJvm.Result result = TestJvm.run(FallbackChild.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("isolation LOCKED_ONLY LOCKED_ONLY");
        assertThat(result.output().split("SECRET MEMORY IS UNAVAILABLE", -1)).as(result.output()).hasSize(2);
        assertThat(result.output()).contains("STILL IN THE KERNEL'S DIRECT MAP").contains("ENOSYS");
    }
}
