// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same attack without any of xpfo's code on the attacking side: {@code dd} reading
 * {@code /proc/PID/mem} of this JVM, as any script of the same user could.
 */
class ProcMemFromShellTest {

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void ddCannotReadSecretMemoryButReadsOrdinaryMemory() throws Exception {
        long page = PageSize.BYTES;
        try (XpfoFile file = XpfoFile.create(page); Mapping secret = file.map(); Mapping ordinary = Mapping.anonymous(page)) {
            secret.segment().set(JAVA_LONG, 0, 0x1234_5678_9ABC_DEF0L);
            ordinary.segment().set(JAVA_LONG, 0, 0x1234_5678_9ABC_DEF0L);

            Read control = dd(ordinary.segment(), page);
            assertThat(control.exitCode()).as(control.stderr()).isZero();
            assertThat(control.bytes()).isEqualTo(page);

            Read attack = dd(secret.segment(), page);
            assertThat(attack.exitCode()).isNotZero();
            assertThat(attack.bytes()).isZero();
            assertThat(attack.stderr()).contains("Input/output error");
        }
    }

    private record Read(int exitCode, long bytes, String stderr) {
    }

    private static Read dd(MemorySegment memory, long page) throws Exception {
        Child.Result dd = Child.run(new ProcessBuilder("dd", "if=/proc/" + ProcessHandle.current().pid() + "/mem",
                "bs=" + page, "skip=" + memory.address() / page, "count=1", "status=none"), Duration.ofSeconds(30));
        return new Read(dd.exitCode(), dd.stdout().length, dd.stderr());
    }
}
