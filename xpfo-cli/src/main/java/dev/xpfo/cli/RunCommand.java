package dev.xpfo.cli;

import dev.xpfo.vm.ChildProcess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code xpfo run --core-isolate -- CMD}: any program on cores no other task shares. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Runs a command with the isolation xpfo can give any process: --core-isolate gives it (and "
                + "everything it starts) a core-scheduling cookie of its own. Exits with the command's exit code.",
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
        if (!cores.isolate) {
            err.println("xpfo run: nothing to do: pass --core-isolate (run the command directly otherwise)");
            err.flush();
            return Main.FAILED;
        }
        if (!cores.apply("run", err)) {
            return Main.FAILED;
        }
        return ChildProcess.awaitStoppingOnExit(new ProcessBuilder(command).inheritIO().start());
    }
}
