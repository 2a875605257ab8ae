// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.testing.Child;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The launcher script {@code ./xpfo} and {@code scripts/bench}, run as a user runs them, in a copy of the
 * checkout whose tools are stand-ins: a fake JDK (its {@code java} reports a version and records what it
 * was asked to run), Maven, cc and apt-get that record their calls. What the script decides (which JDK,
 * whether to build, what to install, what to print) is what is checked; nothing real is built.
 */
class LauncherScriptTest {
    private static final Path REPOSITORY = Path.of("").toAbsolutePath().getParent();

    @TempDir
    Path dir;

    private Path checkout;
    private Path tools;
    private Path calls;
    private Path jdk25;

    @BeforeEach
    void copyTheScriptsAndMakeStandIns() throws IOException {
        checkout = Files.createDirectories(dir.resolve("checkout"));
        tools = Files.createDirectories(dir.resolve("tools"));
        calls = dir.resolve("calls.log");
        Files.createFile(calls);
        copyExecutable(REPOSITORY.resolve("xpfo"), checkout.resolve("xpfo"));
        copyExecutable(REPOSITORY.resolve("scripts/bench"), checkout.resolve("scripts/bench"));
        script(checkout.resolve("scripts/guest/build"), "echo \"guest build $*\" >>\"$CALLS\"\nexit 1\n");
        jdk25 = fakeJdk("jdk25", 25);
        // Maven: two at once in one checkout is what broke the build; the stand-in refuses it outright.
        // With MVN_GATE set it waits for that file before finishing, so a second launcher meets it mid-build.
        script(tools.resolve("mvn"), """
                echo "mvn JAVA_HOME=$JAVA_HOME $*" >>"$CALLS"
                mkdir .mvn-building 2>/dev/null || { echo "two Maven builds at once in one checkout" >&2; exit 1; }
                if [ -n "${MVN_GATE:-}" ]; then
                  for i in $(seq 1200); do [ -e "$MVN_GATE" ] && break; sleep 0.1; done
                fi
                mkdir -p xpfo-cli/target xpfo-bench/target
                touch xpfo-cli/target/xpfo-cli-0.1.0-SNAPSHOT.jar xpfo-bench/target/xpfo-bench-0.1.0-SNAPSHOT.jar
                rmdir .mvn-building
                """);
        script(tools.resolve("cc"), """
                echo "cc $*" >>"$CALLS"
                while [ $# -gt 0 ]; do [ "$1" = -o ] && { mkdir -p "$(dirname "$2")"; touch "$2"; }; shift; done
                """);
        script(tools.resolve("apt-get"), "echo \"apt-get $*\" >>\"$CALLS\"\nexit 1\n");
    }

    /** The link to the running JDK goes first, so that removing the temporary directory never follows it. */
    @AfterEach
    void removeTheLinkToTheRunningJdk() throws IOException {
        Files.deleteIfExists(tools.resolve("javac"));
    }

    @Test
    void helpListsTheLauncherCommandsThenTheCommandLinesHelp() throws Exception {
        assertThat(launch(Map.of(), "build").exitCode()).isZero();
        for (String help : List.of("--help", "-h", "help")) {
            Run run = launch(Map.of(), help);
            assertThat(run.exitCode()).isZero();
            assertThat(run.out()).contains("./xpfo build", "./xpfo test", "./xpfo bench");
            int launcherPart = run.out().indexOf("./xpfo bench");
            int cliPart = run.out().indexOf("fake java ran: ");
            assertThat(cliPart).as("the CLI's help follows the launcher's commands").isGreaterThan(launcherPart);
            assertThat(run.out().substring(cliPart)).contains("dev.xpfo.cli.Main " + help);
        }
    }

    @Test
    void withoutArgumentsTheCommandLinesExitCodeComesThrough() throws Exception {
        assertThat(launch(Map.of(), "build").exitCode()).isZero();
        Run run = launch(Map.of("FAKE_JAVA_EXIT", "2"));
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.out()).containsPattern("fake java ran: .*dev\\.xpfo\\.cli\\.Main\\n");
        assertThat(run.err()).contains("./xpfo build", "./xpfo test", "./xpfo bench");
    }

    @Test
    void benchHelpInstallsCompilesAndDownloadsNothing() throws Exception {
        assertThat(launch(Map.of(), "build").exitCode()).isZero();
        Files.writeString(calls, "");
        Run run = launch(Map.of(), "bench", "--help");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("fake java ran: ").contains("dev.xpfo.bench.Bench").contains("--help")
                .doesNotContain("AlwaysPreTouch");
        assertThat(Files.readString(calls)).as("commands the help request ran besides java").isEmpty();
    }

    @Test
    void aJavaHomeBelow25IsReportedWithTheJdkUsedInstead() throws Exception {
        Path jdk17 = fakeJdk("jdk17", 17);
        exposeTheRunningJdk();
        Run run = launch(Map.of("JAVA_HOME", jdk17.toString()), "build");
        assertThat(run.exitCode()).isZero();
        assertThat(run.err()).contains("JAVA_HOME=" + jdk17 + " is java 17, below 25; using ").contains(" instead");
        assertThat(Files.readString(calls)).contains("mvn JAVA_HOME=").doesNotContain("mvn JAVA_HOME=" + jdk17);
    }

    @Test
    void aJavaHomeThatDoesNotExistIsReportedWithTheJdkUsedInstead() throws Exception {
        Path nowhere = dir.resolve("no-such-jdk");
        exposeTheRunningJdk();
        Run run = launch(Map.of("JAVA_HOME", nowhere.toString()), "build");
        assertThat(run.exitCode()).isZero();
        assertThat(run.err()).contains("JAVA_HOME=" + nowhere + " does not exist; using ").contains(" instead");
    }

    @Test
    void aJavaHomeThatIsAJdk25IsUsedWithoutComment() throws Exception {
        Run run = launch(Map.of(), "build");
        assertThat(run.exitCode()).isZero();
        assertThat(run.err()).doesNotContain("JAVA_HOME=");
        assertThat(Files.readString(calls)).contains("mvn JAVA_HOME=" + jdk25 + " ");
    }

    @Test
    void twoLaunchersStartedTogetherOnAFreshCheckoutBothRunOnOneBuild() throws Exception {
        Path gate = dir.resolve("maven-may-finish");
        Map<String, String> environment = Map.of("MVN_GATE", gate.toString());
        Process first = start(environment, "first", "probe");
        Process second = null;
        try {
            waitUntil(() -> mavenCalls() == 1 || !first.isAlive());
            second = start(environment, "second", "probe");
            Process started = second;
            Path secondErr = dir.resolve("second.err");
            // The second one either waits for the first build or (without a lock) starts a second one.
            waitUntil(() -> read(secondErr).contains("waiting") || mavenCalls() > 1 || !started.isAlive());
            Files.createFile(gate);
            assertThat(first.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(second.waitFor(120, TimeUnit.SECONDS)).isTrue();
        } finally {
            first.destroyForcibly();
            if (second != null) {
                second.destroyForcibly();
            }
        }
        String secondErr = read(dir.resolve("second.err"));
        assertThat(first.exitValue()).as(read(dir.resolve("first.err"))).isZero();
        assertThat(second.exitValue()).as(secondErr).isZero();
        assertThat(mavenCalls()).isEqualTo(1);
        assertThat(secondErr).contains("another ./xpfo is building", "using the build the other ./xpfo just finished");
        assertThat(read(dir.resolve("first.out"))).contains("fake java ran: ").contains("dev.xpfo.cli.Main probe");
        assertThat(read(dir.resolve("second.out"))).contains("fake java ran: ").contains("dev.xpfo.cli.Main probe");
    }

    /** A JDK directory whose java reports {@code major} as its version and otherwise records its arguments. */
    private Path fakeJdk(String name, int major) throws IOException {
        Path home = dir.resolve(name);
        script(home.resolve("bin/java"), """
                case "$*" in
                  *-XshowSettings:properties*) echo "    java.specification.version = %d" >&2; exit 0 ;;
                esac
                echo "fake java ran: $*"
                exit "${FAKE_JAVA_EXIT:-0}"
                """.formatted(major));
        script(home.resolve("bin/javac"), "exit 0\n");
        return home;
    }

    /** The JDK running this test, found on PATH as a user's would be. */
    private void exposeTheRunningJdk() throws IOException {
        Files.createSymbolicLink(tools.resolve("javac"), Path.of(System.getProperty("java.home"), "bin", "javac"));
    }

    private long mavenCalls() {
        return read(calls).lines().filter(line -> line.startsWith("mvn ")).count();
    }

    private Run launch(Map<String, String> environment, String... args) throws Exception {
        Process process = start(environment, "run", args);
        Child.finish(process, Duration.ofSeconds(120)); // its output goes to files: read below
        return new Run(process.exitValue(), read(dir.resolve("run.out")), read(dir.resolve("run.err")));
    }

    private Process start(Map<String, String> environment, String name, String... args) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(Stream.concat(Stream.of(checkout.resolve("xpfo").toString()),
                Stream.of(args)).toList())
                .directory(checkout.toFile())
                .redirectOutput(dir.resolve(name + ".out").toFile())
                .redirectError(dir.resolve(name + ".err").toFile());
        Map<String, String> env = builder.environment();
        env.clear();
        env.put("PATH", tools + ":/usr/bin:/bin");
        env.put("HOME", Files.createDirectories(dir.resolve("home")).toString());
        env.put("CALLS", calls.toString());
        env.put("JAVA_HOME", jdk25.toString());
        env.putAll(environment);
        return builder.start();
    }

    private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (!condition.getAsBoolean()) {
            assertThat(Instant.now()).as("waited 60 s for the launchers").isBefore(deadline);
            Thread.sleep(50);
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void copyExecutable(Path from, Path to) throws IOException {
        script(to, Files.readString(from));
    }

    private static void script(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text.startsWith("#!") ? text : "#!/bin/bash\n" + text, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private record Run(int exitCode, String out, String err) {
    }
}
