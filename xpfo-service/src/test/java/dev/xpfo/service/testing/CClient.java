// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service.testing;

import dev.xpfo.testing.Child;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The C client under {@code clients/c}, compiled once per test run with the system's cc. */
public final class CClient {
    private static Path example;

    private CClient() {
    }

    /** The repository's {@code clients/c} directory. */
    public static Path sources() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("clients/c"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("clients/c not found above " + Path.of("").toAbsolutePath());
        }
        return dir.resolve("clients/c");
    }

    /**
     * Compiles {@code example.c} and {@code xpfo_client.c} with warnings as errors, into a directory every
     * user can read (the tests run it as an ordinary user too).
     */
    public static synchronized Path example() throws IOException, InterruptedException {
        if (example == null) {
            Path out = Files.createTempDirectory("xpfo-c-client");
            out.toFile().setReadable(true, false);
            out.toFile().setExecutable(true, false);
            Path binary = out.resolve("xpfo_example");
            Result compiled = run(List.of("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-o", binary.toString(),
                    sources().resolve("example.c").toString(), sources().resolve("xpfo_client.c").toString()));
            if (compiled.exitCode() != 0) {
                throw new AssertionError("the C client does not compile:\n" + compiled.output());
            }
            binary.toFile().setExecutable(true, false);
            example = binary;
        }
        return example;
    }

    private static final java.util.Map<String, Path> PROGRAMS = new java.util.HashMap<>();

    /**
     * Compiles the test program {@code src/test/c/NAME.c} of the module under test, else the service's
     * (its test headers are on the include path), together with the C client, warnings
     * as errors, into a directory every user can read (the tests run these programs as uid 65534), once
     * per test run: the one way the tests compile their C programs.
     */
    public static synchronized Path program(String name) throws IOException, InterruptedException {
        Path cached = PROGRAMS.get(name);
        if (cached != null) {
            return cached;
        }
        Path out = Files.createTempDirectory("xpfo-c-" + name);
        out.toFile().setReadable(true, false);
        out.toFile().setExecutable(true, false);
        Path binary = out.resolve(name);
        Path serviceTests = sources().getParent().getParent().resolve("xpfo-service/src/test/c");
        Path source = Path.of("src/test/c", name + ".c").toAbsolutePath();
        if (!Files.isRegularFile(source)) {
            source = serviceTests.resolve(name + ".c"); // the service's attackers, run by the CLI's tests too
        }
        Result compiled = run(List.of("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I", sources().toString(),
                "-I", serviceTests.toString(),
                "-o", binary.toString(), source.toString(), sources().resolve("xpfo_client.c").toString(), "-lpthread"));
        if (compiled.exitCode() != 0) {
            throw new AssertionError(name + ".c does not compile:\n" + compiled.output());
        }
        binary.toFile().setExecutable(true, false);
        PROGRAMS.put(name, binary);
        return binary;
    }

    /** The command that runs {@code command} as uid and gid {@code uid}, with no capabilities. */
    public static List<String> as(int uid, String... command) {
        List<String> wrapped = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"));
        wrapped.addAll(List.of(command));
        return wrapped;
    }

    public record Result(int exitCode, String output) {
    }

    /** Runs {@code command} (up to 60 s), its output and errors together. */
    public static Result run(List<String> command) throws IOException, InterruptedException {
        return run(command, 60);
    }

    /**
     * Runs {@code command}, its output and errors together; if it has not ended after {@code seconds}, it
     * and what it started are killed and the test fails with what it printed ({@link Child}).
     */
    public static Result run(List<String> command, long seconds) throws IOException, InterruptedException {
        Child.Result result = Child.run(command, Duration.ofSeconds(seconds));
        return new Result(result.exitCode(), result.output());
    }

    /** Runs the example with {@code args}; as uid 65534 with the given memlock limit if {@code memlock > 0}. */
    public static Result example(long memlock, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        if (memlock > 0) {
            command.addAll(List.of("prlimit", "--memlock=" + memlock + ":" + memlock, "setpriv", "--reuid=65534",
                    "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"));
        }
        command.add(example().toString());
        command.addAll(List.of(args));
        return run(command);
    }
}
