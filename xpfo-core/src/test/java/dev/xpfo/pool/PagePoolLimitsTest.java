// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.memory.Bytes;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** An ordinary user's pool stays inside its memlock limit and says so when it is reached. */
class PagePoolLimitsTest {

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void anOrdinaryUsersPoolIsCappedByItsMemlockLimitWithTheRemedies() throws Exception {
        long limit = 4 * Bytes.MIB;
        TestJvm.Result result = TestJvm.runUnprivileged(limit, PoolMemlockChild.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output())
                .contains("maximum " + limit + " set by MEMLOCK_LIMIT")
                .contains("warmed " + limit)
                .contains("took " + limit)
                .contains("fifth chunk refused MEMLOCK: cannot take 1 MiB")
                .contains("capped at 4 MiB by RLIMIT_MEMLOCK")
                .contains("ulimit -l").contains("LimitMEMLOCK=").contains("CAP_IPC_LOCK")
                .contains("kernel refused MEMLOCK cause MemlockLimitException")
                // 1 MiB was ready, 1 MiB more was populated before the refusal: both are ready again, and
                // they are the only secret memory left besides the 2 MiB file held outside the pool.
                .contains("after the refusal ready " + 2 * Bytes.MIB + " in use 0 populating 0 peak 0 secret mappings 3")
                .contains("every size class allocated, 15 secrets in " + Bytes.MIB + " bytes of chunks")
                .doesNotContain("fifth chunk taken").doesNotContain("took past the limit");
    }
}
