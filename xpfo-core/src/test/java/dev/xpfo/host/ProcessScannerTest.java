// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import org.junit.jupiter.api.Test;

import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The one walk of /proc: every process, and one answer when a process exits or may not be read. */
class ProcessScannerTest {
    private static final long SELF = ProcessHandle.current().pid();

    @Test
    void everyProcessIsListedInPidOrder() {
        assertThat(ProcessScanner.pids()).contains(SELF, 1L).isSorted();
    }

    @Test
    void aProcessIsReadAsItIs() throws Exception {
        ProcessDirectory self = new ProcessDirectory(SELF);
        assertThat(self.realUid()).isEqualTo(((Number) Files.getAttribute(self.path(), "unix:uid")).intValue());
        assertThat(self.executable()).isEqualTo("java");
        assertThat(self.threads()).contains(SELF).hasSizeGreaterThan(1);
        assertThat(ProcessScanner.read(SELF, ProcessDirectory::maps)).isInstanceOfSatisfying(ProcessScanner.Result.Read.class,
                read -> assertThat(read.value()).asList().isNotEmpty());
    }

    @Test
    void aProcessThatExitedIsExitedNotUnreadable() throws Exception {
        Process child = new ProcessBuilder("true").start();
        long pid = child.pid();
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ProcessScanner.read(pid, ProcessDirectory::maps)).isInstanceOf(ProcessScanner.Result.Exited.class);
        assertThat(ProcessScanner.read(pid, ProcessDirectory::realUid)).isInstanceOf(ProcessScanner.Result.Exited.class);
    }

    @Test
    void aProcessThatExistsButCannotBeReadIsUnreadableWithTheReason() {
        assertThat(ProcessScanner.read(SELF, process -> {
            throw new AccessDeniedException("/proc/" + SELF + "/maps");
        })).isEqualTo(new ProcessScanner.Result.Unreadable<>("permission denied reading /proc/" + SELF + "/maps"));
        assertThat(ProcessScanner.read(SELF, process -> MapsEntry.parse("not a maps line")))
                .isInstanceOf(ProcessScanner.Result.Unreadable.class);
    }

    @Test
    void aProcessWhoseNameIsNotUtf8IsStillRead() throws Exception {
        Process child = new ProcessBuilder("sh", "-c", "printf '\\377' > /proc/self/comm; echo ready; read line; true").start();
        try {
            assertThat(child.inputReader().readLine()).isEqualTo("ready");
            ProcessDirectory process = new ProcessDirectory(child.pid());
            assertThat(process.name()).isEqualTo("\u00ff");
            assertThat(process.realUid()).isEqualTo(((Number) Files.getAttribute(process.path(), "unix:uid")).intValue());
        } finally {
            child.destroy();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
