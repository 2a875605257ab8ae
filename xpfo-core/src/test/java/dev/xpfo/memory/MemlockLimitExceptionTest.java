// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.host.MemlockLimit;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a process refused by its memlock limit is told: the exact limit it needs, and every way to get it. */
class MemlockLimitExceptionTest {

    @Test
    void theMessageGivesTheLimitNeededInUlimitUnitsCountingWhatIsAlreadyLocked() {
        MemlockLimitException e = new MemlockLimitException(64 * Bytes.MIB, 8 * Bytes.MIB, 8 * Bytes.MIB, Bytes.MIB);
        // 64 MiB more on top of 1 MiB locked: 65 MiB, 66560 KiB.
        assertThat(e.neededKib()).isEqualTo(66560);
        assertThat(e.getMessage())
                .contains("mapping 64 MiB (67108864 bytes) of secret memory exceeds RLIMIT_MEMLOCK")
                .contains("\n  limit: soft 8 MiB (ulimit -l 8192), hard 8 MiB (ulimit -H -l 8192); locked now 1 MiB")
                .contains("\n  needed: a soft limit of at least 66560 KiB (65 MiB)")
                .contains("\n  - in this shell, once the hard limit allows it: ulimit -l 66560 ")
                .contains(" - memlock 66560` in /etc/security/limits.conf")
                .contains("\n  - for a systemd service: LimitMEMLOCK=66560K")
                .containsPattern("`setcap cap_ipc_lock\\+ep /\\S+` \\(then every program that binary runs");
        assertThat(e.remedy()).doesNotContain("setcap cap_ipc_lock+ep`");
    }

    @Test
    void aHardLimitHighEnoughNeedsOnlyUlimitInTheShell() {
        MemlockLimitException e = new MemlockLimitException(4097, 4096, -1, 0);
        assertThat(e.neededKib()).as("rounded up to whole KiB").isEqualTo(5);
        assertThat(e.getMessage()).contains("\n  - in this shell: ulimit -l 5 ").contains("the hard limit, unlimited");
    }

    @Test
    void roomIsTheSoftLimitLessWhatIsLockedAndUnlimitedWithTheCapability() {
        assertThat(new MemlockLimit(8 * Bytes.MIB, 8 * Bytes.MIB, false, 3 * Bytes.MIB).roomBytes()).isEqualTo(5 * Bytes.MIB);
        assertThat(new MemlockLimit(8 * Bytes.MIB, 8 * Bytes.MIB, false, 9 * Bytes.MIB).roomBytes()).isZero();
        assertThat(new MemlockLimit(8 * Bytes.MIB, 8 * Bytes.MIB, true, 0).roomBytes()).isEqualTo(Long.MAX_VALUE);
        assertThat(new MemlockLimit(-1, -1, false, 0).roomBytes()).isEqualTo(Long.MAX_VALUE);
    }
}
