// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.vm.ChildProcess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code xpfo run --core-isolate -- CMD}: any program on cores no other task shares. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Runs a command with the isolation xpfo can give any process: --core-isolate gives it (and "
                + "everything it starts) a core-scheduling cookie of its own. Exits with the command's exit code; "
                + "127 if the command is not found, 126 if it cannot be run, 2 if refused (nothing started).",
                "Example: xpfo run --core-isolate -- postgres -D /var/lib/postgresql/data"})
final class RunCommand implements Callable<Integer> {
    @Mixin
    CoreIsolationOptions cores;

    @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The command, after --.")
    List<String> command;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        // As a shell would: 127 for a command that does not exist, 126 for one that cannot run; nothing started.
        Optional<Path> program = ExecutableLookup.find(command.getFirst(), System.getenv("PATH"));
        if (program.isEmpty()) {
            err.println("xpfo run: " + command.getFirst() + ": command not found");
            err.flush();
            return ExecutableLookup.NOT_FOUND;
        }
        if (!ExecutableLookup.runnable(program.get())) {
            err.println("xpfo run: " + command.getFirst() + ": cannot run it: "
                    + (Files.isDirectory(program.get()) ? "it is a directory" : "permission denied (not executable)"));
            err.flush();
            return ExecutableLookup.NOT_EXECUTABLE;
        }
        if (!cores.isolate) {
            err.println("xpfo run: nothing to do: pass --core-isolate (run the command directly otherwise)");
            err.flush();
            return Main.FAILED;
        }
        if (!cores.apply("run", err)) {
            return Main.FAILED;
        }
        Process child;
        try {
            child = new ProcessBuilder(command).inheritIO().start();
        } catch (IOException e) {
            // Found and executable, yet exec failed: a bad interpreter line, a binary for another machine.
            err.println("xpfo run: " + command.getFirst() + ": cannot run it: " + e.getMessage());
            err.flush();
            return ExecutableLookup.NOT_EXECUTABLE;
        }
        return ChildProcess.awaitStoppingOnExit(child);
    }
}
