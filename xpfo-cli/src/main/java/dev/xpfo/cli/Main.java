package dev.xpfo.cli;

import dev.xpfo.memory.XpfoException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code xpfo} command. */
@Command(name = "xpfo", mixinStandardHelpOptions = true, version = "xpfo 0.1.0",
        description = "Memory the Linux kernel does not map: removed from the direct map with memfd_secret(2).",
        subcommands = {ServeCommand.class, AllocCommand.class, StatusCommand.class, ProbeCommand.class,
                CheckCommand.class, PoolCommand.class, VmCommand.class, RunCommand.class, AuditCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** The exit code for an xpfo error that the command did not turn into a result. */
    static final int FAILED = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // One line per log record (the service logs every grant and refusal), unless the user chose a format.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, for tests and {@link #main}. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(Main::explain);
    }

    /** xpfo's own errors already say what failed and what to do: print that, not a stack trace. */
    private static int explain(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof XpfoException) {
            commandLine.getErr().println("xpfo " + commandLine.getCommandName() + ": " + e.getMessage());
            commandLine.getErr().flush();
            return FAILED;
        }
        throw e;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
