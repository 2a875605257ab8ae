package dev.xpfo.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code xpfo} command. */
@Command(name = "xpfo", mixinStandardHelpOptions = true, version = "xpfo 0.1.0",
        description = "Memory the Linux kernel does not map: removed from the direct map with memfd_secret(2).",
        subcommands = {ProbeCommand.class, CheckCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, for tests and {@link #main}. */
    static CommandLine commandLine() {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
