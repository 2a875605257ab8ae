// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A child that hangs fails the test that started it, with what it printed, instead of hanging the build.
 * The class timeout, on a thread of its own so that it fires even while a test is blocked reading a
 * pipe, only turns a hang of the helper itself into a failure: the helper's own timeouts here are a few seconds.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ChildTest {
    private static final Duration SHORT = Duration.ofSeconds(2);

    @Test
    void aChildThatPrintsAndThenHangsIsKilledWithWhatItStartedAndFailsWithItsOutput() {
        // The shell's background sleep is a grandchild: it must die too, or it would outlive the test.
        List<String> command = List.of("sh", "-c", "sleep 600 & echo \"sleeping as $!\"; wait");

        assertThatThrownBy(() -> Child.run(command, SHORT))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("did not finish in 2000 ms")
                .hasMessageContaining("sleeping as ")
                .satisfies(failure -> {
                    Matcher pid = Pattern.compile("sleeping as (\\d+)").matcher(failure.getMessage());
                    assertThat(pid.find()).isTrue();
                    assertThat(runningState(Long.parseLong(pid.group(1)))).as("the grandchild's state").isIn("gone", "Z");
                });
    }

    @Test
    void aChildThatFillsItsPipeAndNeverExitsFailsWithAllItPrinted() {
        // 256 KiB is four times a Linux pipe: the child blocks unless someone reads while the test waits.
        List<String> command = List.of("sh", "-c", "head -c 262144 /dev/zero | tr '\\0' x; echo; echo end; sleep 600");

        assertThatThrownBy(() -> Child.run(command, SHORT))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("x".repeat(262144) + "\nend");
    }

    @Test
    void standardOutputAndErrorAreReadTogetherSoAFullErrorPipeCannotBlockTheChild() throws Exception {
        // The child fills its error pipe first: reading standard output to its end before the errors never ends.
        ProcessBuilder builder = new ProcessBuilder("sh", "-c",
                "head -c 262144 /dev/zero | tr '\\0' e >&2; head -c 262144 /dev/zero | tr '\\0' o; exit 3");

        Child.Result result = Child.run(builder, Duration.ofSeconds(30));

        assertThat(result.exitCode()).isEqualTo(3);
        assertThat(result.stdout()).hasSize(262144).containsOnly('o');
        assertThat(result.stderr()).hasSize(262144).containsOnlyOnce("e".repeat(262144));
    }

    @Test
    void waitingForALineAChildNeverPrintsFailsWithinTheTimeoutAndKillsIt() throws Exception {
        Process process = new ProcessBuilder("sh", "-c", "echo ready; printf 'half a line'; sleep 600")
                .redirectErrorStream(true).start();
        Child.Watch watch = Child.watch(process);

        assertThat(watch.nextLine(Duration.ofSeconds(30))).isEqualTo("ready");
        assertThatThrownBy(() -> watch.nextLine(SHORT))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("printed no line 2 within 2000 ms")
                .hasMessageContaining("ready\nhalf a line");
        assertThat(process.isAlive()).isFalse();
    }

    @Test
    void aChildThatEndsInTimeGivesItsExitCodeAndOutput() throws Exception {
        Child.Result result = Child.run(List.of("sh", "-c", "echo out; echo err >&2; exit 7"), Duration.ofSeconds(30));

        assertThat(result.exitCode()).isEqualTo(7);
        assertThat(result.output()).contains("out\n").contains("err\n");
    }

    /** "gone" once the kernel has no such process, else its state letter from /proc/PID/stat. */
    private static String runningState(long pid) throws Exception {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        } catch (NoSuchFileException e) {
            return "gone";
        }
    }
}
