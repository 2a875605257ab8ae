// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.memory.XpfoException;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Every bad input gets a clear answer: each line of the table goes through the real command line and
 * must end with {@code xpfo CMD: message} as the first line, the documented exit code, and nothing a
 * user should not have to read (an exception, a stack frame, a Java class name). Nothing is started
 * for any of them.
 */
class CliErrorsTest {

    static Stream<Arguments> badInputs() {
        return Stream.of(
                // sizes: more than 0, a number with a unit
                bad("xpfo alloc: --size: a size must be more than 0 bytes", "alloc", "--size", "0"),
                bad("xpfo alloc: --size: a size must be more than 0 bytes", "alloc", "--size", "-1"),
                bad("xpfo alloc: --size: not a size: 'lots'", "alloc", "--size", "lots"),
                bad("xpfo alloc: missing required option: '--size=BYTES'", "alloc"),
                bad("xpfo check: --size: a size must be more than 0 bytes", "check", "--size", "0"),
                bad("xpfo pool: --warm: a size must be more than 0 bytes", "pool", "--warm", "0"),
                bad("xpfo pool: --take: a size must be more than 0 bytes", "pool", "--take", "-1"),
                bad("xpfo serve: --quota: not a size", "serve", "--quota", "1X"),
                // durations and rates: not negative, numbers
                bad("xpfo alloc: --hold: must not be negative", "alloc", "--size", "1M", "--hold", "-1"),
                bad("xpfo alloc: --hold: not a number of seconds: 'soon'", "alloc", "--size", "1M", "--hold", "soon"),
                bad("xpfo serve: --cold-deadline: must not be negative", "serve", "--cold-deadline", "-5"),
                bad("xpfo serve: --cold-deadline: not a number of seconds: 'NaN'", "serve", "--cold-deadline", "NaN"),
                bad("xpfo serve: --rate: must not be negative", "serve", "--rate", "-1"),
                bad("xpfo serve: --idle-timeout must be at least 0.001 seconds", "serve", "--idle-timeout", "0"),
                bad("xpfo serve: --idle-timeout: must not be negative", "serve", "--idle-timeout", "-2"),
                // counts: at least 1
                bad("xpfo serve: --threads: must be at least 1, not 0", "serve", "--threads", "0"),
                bad("xpfo pool: --threads: must be at least 1, not 0", "pool", "--threads", "0"),
                bad("xpfo serve: --threads: not a whole number: 'many'", "serve", "--threads", "many"),
                bad("xpfo serve: --max-clients: must be at least 1", "serve", "--max-clients", "0"),
                bad("xpfo serve: --max-clients-per-uid: must be at least 1", "serve", "--max-clients-per-uid", "-3"),
                // octal modes
                bad("xpfo serve: --socket-mode: not permission bits in octal", "serve", "--socket-mode", "999"),
                bad("xpfo serve: --socket-mode: not permission bits in octal", "serve", "--socket-mode", "1777"),
                bad("xpfo serve: --socket-group: no such group on this system: 'no-such-group-xpfo'", "serve",
                        "--socket-group", "no-such-group-xpfo"),
                // HOST:PORT, loopback only
                bad("xpfo serve: --metrics: not HOST:PORT", "serve", "--metrics", "127.0.0.1"),
                bad("xpfo serve: --metrics: the port must be a number from 1 to 65535, not 'abc'", "serve", "--metrics",
                        "localhost:abc"),
                bad("xpfo serve: --metrics: the port must be a number from 1 to 65535, not '70000'", "serve", "--metrics",
                        "127.0.0.1:70000"),
                bad("xpfo serve: --metrics: only a loopback address is allowed", "serve", "--metrics", "192.0.2.1:9464"),
                // the same chunk rule in pool and serve
                bad("xpfo serve: --chunk: a chunk must be a whole number of 4 KiB pages", "serve", "--chunk", "3000"),
                bad("xpfo pool: --chunk: a chunk must be a whole number of 4 KiB pages", "pool", "--chunk", "3000"),
                bad("xpfo serve: --chunk: a size must be more than 0 bytes", "serve", "--chunk", "0"),
                // options against each other and against the machine, in the options' words
                bad("xpfo serve: --maximum 64 TiB is more than this machine's memory", "serve", "--maximum", "64T"),
                bad("xpfo serve: --target 64 TiB is more than this machine's memory", "serve", "--target", "64T"),
                bad("xpfo serve: --target 1 GiB is more than --maximum 512 MiB", "serve", "--target", "1G", "--maximum", "512M"),
                bad("xpfo serve: --max-grant 1 GiB is more than --maximum 512 MiB", "serve", "--max-grant", "1G",
                        "--maximum", "512M"),
                bad("xpfo serve: --maximum 1 MiB is less than one chunk (--chunk 2 MiB)", "serve", "--maximum", "1M"),
                bad("xpfo pool: --warm 64 TiB is more than the pool may hold: a quarter of this machine's memory", "pool",
                        "--warm", "64T"),
                // enums, unknown options and commands
                bad("xpfo vm: --ram: expected one of [SERVICE, SECRETMEM]", "vm", "--ram", "bogus", "--", "qemu-system-x86_64"),
                bad("xpfo status: unknown option: '--bogus'", "status", "--bogus"),
                bad("xpfo: unmatched argument at index 0: 'frobnicate'", "frobnicate"));
    }

    private static Arguments bad(String firstLine, String... args) {
        return arguments(String.join(" ", args), guarded(args), firstLine);
    }

    /**
     * {@code serve} with a socket where nothing can be made (mkdir under /proc fails even for root): if a
     * check ever let a bad value through, the service fails to start instead of listening at the real
     * default path and holding up the run.
     */
    private static String[] guarded(String[] args) {
        if (args.length == 0 || !args[0].equals("serve")) {
            return args;
        }
        String[] guarded = java.util.Arrays.copyOf(args, args.length + 2);
        guarded[args.length] = "--socket";
        guarded[args.length + 1] = "/proc/xpfo-cli-test/xpfo.sock";
        return guarded;
    }

    @ParameterizedTest(name = "xpfo {0}")
    @MethodSource("badInputs")
    void aBadInputIsAUsageErrorWithTheCommandsNameAndNoStackTrace(String shown, String[] args, String firstLine) {
        CliRun run = CliRun.of(args);
        assertThat(run.out()).as(run.out()).startsWith(firstLine);
        assertThat(run.exitCode()).as(run.out()).isEqualTo(2);
        assertReadable(run.out());
    }

    @Test
    void runOfACommandThatDoesNotExistSaysSoAndExits127LikeAShell() {
        CliRun run = CliRun.of("run", "--", "/nonexistent");
        assertThat(run.exitCode()).as(run.out()).isEqualTo(127);
        assertThat(run.out()).isEqualTo("xpfo run: /nonexistent: command not found\n");
        CliRun isolated = CliRun.of("run", "--core-isolate", "--allow-shared-cores", "--", "no-such-command-xpfo");
        assertThat(isolated.exitCode()).as(isolated.out()).isEqualTo(127);
        assertThat(isolated.out()).isEqualTo("xpfo run: no-such-command-xpfo: command not found\n");
    }

    @Test
    void runOfAFileThatCannotBeExecutedExits126(@TempDir Path dir) throws Exception {
        Path text = Files.writeString(dir.resolve("notes.txt"), "not a program\n");
        Files.setPosixFilePermissions(text, PosixFilePermissions.fromString("rw-r--r--"));
        CliRun run = CliRun.of("run", "--", text.toString());
        assertThat(run.exitCode()).as(run.out()).isEqualTo(126);
        assertThat(run.out()).isEqualTo("xpfo run: " + text + ": cannot run it: permission denied (not executable)\n");
        CliRun directory = CliRun.of("run", "--", dir.toString());
        assertThat(directory.exitCode()).as(directory.out()).isEqualTo(126);
        assertThat(directory.out()).isEqualTo("xpfo run: " + dir + ": cannot run it: it is a directory\n");
    }

    @Test
    void xpfoAlonePrintsTheUsageAndExits2() {
        CliRun run = CliRun.of();
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.out()).startsWith("Usage: xpfo").contains("serve").contains("alloc").contains("probe");
    }

    @Test
    void helpAndVersionStillExitZero() {
        assertThat(CliRun.of("--help").exitCode()).isZero();
        assertThat(CliRun.of("serve", "--help").exitCode()).isZero();
        assertThat(CliRun.of("--version").exitCode()).isZero();
    }

    @Test
    void anXpfoErrorIsItsMessageWithTheCommandsNameAndExit2() {
        CliRun run = CliRun.of("status", "--socket", "/nonexistent/xpfo.sock");
        assertThat(run.exitCode()).as(run.out()).isEqualTo(Failures.FAILED);
        assertThat(run.out()).startsWith("xpfo status: connect failed with ENOENT");
        assertReadable(run.out());
    }

    /** A command that fails the way no command should: stands in for a bug anywhere in xpfo. */
    @Command(name = "broken")
    static final class Broken implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("the index went past the end");
        }
    }

    @Command(name = "refusing")
    static final class Refusing implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new XpfoException("the service refused: OVER_QUOTA");
        }
    }

    @Test
    void anUnexpectedErrorSaysItIsABugWithoutAStackTraceAndExits70() {
        CliRun run = runUnder(new Broken());
        assertThat(run.exitCode()).isEqualTo(Failures.BUG).isEqualTo(70);
        assertThat(run.out()).startsWith("xpfo broken: unexpected error: the index went past the end\n")
                .contains("this is a bug in xpfo").contains("XPFO_DEBUG=1");
        assertReadable(run.out());
        CliRun refused = runUnder(new Refusing());
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.out()).isEqualTo("xpfo refusing: the service refused: OVER_QUOTA\n");
    }

    @Command(name = "quoting")
    static final class Quoting implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new XpfoException("could not set up the socket /run/x.sock: java.nio.file.AccessDeniedException: "
                    + "/run/x.sock; group: UserPrincipalNotFoundException");
        }
    }

    @Test
    void aJavaExceptionNameInAnXpfoErrorIsSaidInWords() {
        CliRun run = runUnder(new Quoting());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.out()).isEqualTo("xpfo quoting: could not set up the socket /run/x.sock: access denied: /run/x.sock; "
                + "group: user principal not found\n");
        assertReadable(run.out());
    }

    /** {@code command} as a subcommand of xpfo, with xpfo's handlers. */
    private static CliRun runUnder(Object command) {
        StringWriter out = new StringWriter();
        CommandLine xpfo = Main.commandLine().addSubcommand(command);
        int code = xpfo.setOut(new PrintWriter(out)).setErr(new PrintWriter(out))
                .execute(command.getClass().getAnnotation(Command.class).name());
        return new CliRun(code, out.toString());
    }

    /** No exception, stack frame or Java class name: what a user can act on, only. */
    static void assertReadable(String output) {
        assertThat(output).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("at dev.xpfo")
                .doesNotContain("java.").doesNotContain("picocli.").doesNotContain("dev.xpfo.")
                .doesNotContainPattern("\\b[a-z]+\\.[a-z]+\\.[A-Z][A-Za-z]+\\b");
    }

    @Test
    void anotherArchitectureIsRefusedBeforeAnyCommandStarts() throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(TestJvm.command(Main.class, "probe"));
        command.add(1, "-Dos.arch=riscv64"); // as the JVM reports it on a RISC-V machine
        Child.Result run = Child.run(command, java.time.Duration.ofSeconds(60));
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).startsWith("xpfo: ").contains("riscv64").contains("x86-64").contains("arm64")
                .doesNotContain("kernel ").doesNotContain("Exception").doesNotContain("\tat ");
    }
}
