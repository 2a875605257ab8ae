// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.host.MemlockLimit;
import dev.xpfo.memory.Bytes;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's walk-through as an ordinary user (uid 65534 when run as root) with {@code ulimit -l 8192}:
 * what does not fit says exactly how much is needed, in {@code ulimit -l} units, and how the hard limit
 * is raised, over several lines; {@code probe} says how much this user can map.
 */
class MemlockMessagesTest {
    private static final long LIMIT = 8 * Bytes.MIB;

    @Test
    void allocOfMoreThanTheLimitSaysTheKibNeededAndHowToRaiseTheHardLimitBeforeConnecting() throws Exception {
        TestJvm.Result run = TestJvm.runUnprivileged(LIMIT, Main.class, "alloc", "--size", "64M", "--socket",
                "/nonexistent/xpfo.sock");
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).as("refused before connecting, so no grant is populated for nothing")
                .startsWith("xpfo alloc: mmap failed with EAGAIN").doesNotContain("connect failed");
        assertRemedy(run.output(), 65536);
        CliErrorsTest.assertReadable(run.output());
    }

    @Test
    void poolOfMoreThanTheLimitSaysTheKibNeeded() throws Exception {
        TestJvm.Result run = TestJvm.runUnprivileged(LIMIT, Main.class, "pool", "--warm", "16M", "--take", "32M");
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).startsWith("xpfo pool: ");
        assertRemedy(run.output(), 32768);
        CliErrorsTest.assertReadable(run.output());
    }

    @Test
    void probeSaysHowMuchThisUserCanMapAndHowToGetTheReadmesAmount() throws Exception {
        TestJvm.Result table = TestJvm.runUnprivileged(LIMIT, Main.class, "probe");
        assertThat(table.output()).contains("memlock limit        soft 8 MiB (ulimit -l 8192), hard 8 MiB (ulimit -l 8192)")
                .containsPattern("can map +8 MiB of secret memory at once, in each process of this user");
        assertRemedy(table.output(), 262144);
        TestJvm.Result json = TestJvm.runUnprivileged(LIMIT, Main.class, "probe", "--json");
        assertThat(Json.MAPPER.readTree(json.output()).at("/memlock/can_map").asLong()).as(json.output()).isEqualTo(LIMIT);
    }

    @Test
    void serveWithMoreThreadsThanTheLimitFitsIsRefusedWithACountThatFits(@TempDir Path dir) throws Exception {
        dir.toFile().setWritable(true, false);
        TestJvm.Result run = TestJvm.runUnprivileged(LIMIT, Main.class, "serve", "--threads", "8", "--chunk", "2M",
                "--socket", dir.resolve("xpfo.sock").toString());
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).startsWith("xpfo serve: --threads 8 would map 8 chunks of 2 MiB at once")
                .contains("\n  Fits: --threads 4, or raise the limit to 16384 KiB");
        assertRemedy(run.output(), 16384);
        CliErrorsTest.assertReadable(run.output());
    }

    @Test
    void vmWhoseGuestRamPassesTheLimitSaysTheKibNeededBeforeQemuStarts(@TempDir Path dir) throws Exception {
        Path qemu = dir.resolve("qemu-system-x86_64");
        Files.writeString(qemu, "#!/bin/sh\ntouch \"$0.ran\"\n");
        Files.setPosixFilePermissions(qemu, PosixFilePermissions.fromString("rwxr-xr-x"));
        dir.toFile().setExecutable(true, false);
        TestJvm.Result run = TestJvm.runUnprivileged(LIMIT, Main.class, "vm", "--ram", "secretmem", "--",
                qemu.toString(), "-m", "64M");
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).contains("xpfo vm: refused, QEMU not started: guest RAM of 64 MiB would exceed "
                + "RLIMIT_MEMLOCK").contains("raise it to 65536 KiB or more:");
        assertRemedy(run.output(), 65536);
        assertThat(Files.exists(Path.of(qemu + ".ran"))).isFalse();
    }

    @Test
    void serveUnderASmallLimitSuggestsATargetAndThreadCountThatFit() {
        String note = ServeCommand.memlockNote(new MemlockLimit(LIMIT, LIMIT, false, 0),
                StockSettings.of(2 * Bytes.MIB, 256 * Bytes.MIB, Bytes.GIB, 2));
        assertThat(note).startsWith("xpfo serve: note: this user's memlock limit is 8 MiB (ulimit -l 8192)")
                .contains("`xpfo alloc` as this user can take at most 8 MiB")
                .contains("\n  A stock that fits such a client: --target 8M --threads 2");
        assertThat(ServeCommand.memlockNote(new MemlockLimit(-1, -1, false, 0),
                StockSettings.of(2 * Bytes.MIB, 256 * Bytes.MIB, Bytes.GIB, 2))).isNull();
        assertThat(ServeCommand.memlockNote(new MemlockLimit(LIMIT, LIMIT, true, 0),
                StockSettings.of(2 * Bytes.MIB, 256 * Bytes.MIB, Bytes.GIB, 2))).as("CAP_IPC_LOCK lifts it").isNull();
    }

    /** The exact limit needed, each way to get it on a line of its own, and setcap only with the binary. */
    private static void assertRemedy(String output, long kib) {
        assertThat(output).contains("ulimit -l " + kib + " ")
                .contains("/etc/security/limits.conf").containsPattern(" - memlock " + kib + "`")
                .contains("LimitMEMLOCK=" + kib + "K")
                .containsPattern("\n +- in this shell")
                .containsPattern("\n +- for a systemd service")
                .containsPattern("setcap cap_ipc_lock\\+ep /\\S+/java`")
                .doesNotContain("setcap cap_ipc_lock+ep`");
    }
}
