// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.host.SupportedArchitecture;
import dev.xpfo.memory.UnsupportedArchitectureException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** The {@code xpfo} command. */
@Command(name = "xpfo", mixinStandardHelpOptions = true, version = "xpfo 0.1.0",
        description = "Memory the Linux kernel does not map: removed from the direct map with memfd_secret(2).",
        subcommands = {ServeCommand.class, AllocCommand.class, StatusCommand.class, ProbeCommand.class,
                CheckCommand.class, PoolCommand.class, VmCommand.class, RunCommand.class, AuditCommand.class, TlsServeCommand.class,
                CommandLine.HelpCommand.class},
        exitCodeListHeading = "Exit codes (check, probe, audit, vm and run add their own, see their --help):%n",
        exitCodeList = {" 0:done",
                " 2:a usage error (xpfo CMD: what is wrong; nothing started), or a refusal (xpfo CMD: why, and what to do)",
                "70:an unexpected error, a bug in xpfo (XPFO_DEBUG=1 prints the stack trace)"})
public final class Main implements Callable<Integer> {
    /** The exit code for an xpfo error that the command did not turn into a result (see {@link Failures}). */
    static final int FAILED = Failures.FAILED;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // One line per log record (the service logs every grant and refusal), unless the user chose a format.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        }
        try {
            // Another architecture's system call numbers would run other calls: refuse before any command starts.
            SupportedArchitecture.requireThisMachine();
        } catch (UnsupportedArchitectureException e) {
            System.err.println("xpfo: " + e.getMessage());
            System.exit(Failures.FAILED);
        }
        System.exit(commandLine().execute(args));
    }

    /**
     * The configured command line, for tests and {@link #main}: one handler for every command's errors
     * ({@link Failures}), so each says {@code xpfo CMD: message} and exits with a documented code.
     */
    public static CommandLine commandLine() {
        Failures failures = new Failures();
        return new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setParameterExceptionHandler(failures)
                .setExecutionExceptionHandler(failures);
    }

    /** {@code xpfo} with no command: the usage, on standard error, and the usage error's exit code. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        spec.commandLine().getErr().flush();
        return Failures.USAGE;
    }
}
