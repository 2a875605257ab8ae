// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs a main class of the tests in another JVM, as this user or as an ordinary user (uid 65534
 * with no capabilities), from the class path Maven passes in {@code xpfo.test.classpath}.
 */
public final class TestJvm {
    public static final int NOBODY = 65534;

    /** What a child printed and how it ended. */
    public record Result(int exitCode, String output) {
    }

    private TestJvm() {
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Starts {@code main} with {@code args}, as this user, not waiting for it. */
    public static Process start(Class<?> main, String... args) throws IOException {
        return new ProcessBuilder(command(classpath(), main, args)).redirectErrorStream(true).start();
    }

    /** Runs {@code main} to completion as this user. */
    public static Result run(Class<?> main, String... args) throws Exception {
        return finish(start(main, args));
    }

    /**
     * Runs {@code main} as an ordinary user with {@code RLIMIT_MEMLOCK} set to {@code memlockBytes},
     * from a world-readable copy of the classes: as root, it switches to uid/gid 65534 with every
     * capability dropped; as anybody else, the tests already run as an ordinary user, so the child
     * keeps this user and only gets the lower limit.
     */
    public static Result runUnprivileged(long memlockBytes, Class<?> main, String... args) throws Exception {
        return runUnprivileged(memlockBytes, Map.of(), main, args);
    }

    /** {@link #runUnprivileged(long, Class, String...)} with {@code environment} added to the child's. */
    public static Result runUnprivileged(long memlockBytes, Map<String, String> environment, Class<?> main, String... args)
            throws Exception {
        Path copy = Files.createTempDirectory("xpfo-test-classes", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            return finish(startUnprivileged(copy, memlockBytes, environment, main, args));
        } finally {
            try (Stream<Path> walk = Files.walk(copy)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * Starts {@code main} like {@link #runUnprivileged} without waiting for it, from a copy of the classes
     * made in {@code copy} (a directory every user can read; the caller removes it once the child ended).
     */
    public static Process startUnprivileged(Path copy, long memlockBytes, Class<?> main, String... args) throws IOException {
        return startUnprivileged(copy, memlockBytes, Map.of(), main, args);
    }

    /** {@link #startUnprivileged(Path, long, Class, String...)} with {@code environment} added to the child's. */
    public static Process startUnprivileged(Path copy, long memlockBytes, Map<String, String> environment, Class<?> main,
                                            String... args) throws IOException {
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String entry : classpath().split(java.io.File.pathSeparator)) {
            Path target = copy.resolve(Integer.toString(i++));
            copyTree(Path.of(entry), target);
            entries.add(target.toString());
        }
        List<String> command = new ArrayList<>(List.of("prlimit", "--memlock=" + memlockBytes + ":" + memlockBytes));
        if (isRoot()) {
            command.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"));
        }
        command.addAll(command(String.join(java.io.File.pathSeparator, entries), main, args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).directory(copy.toFile());
        builder.environment().putAll(environment);
        return builder.start();
    }

    /** Waits up to 120 s for a child JVM, reading what it prints meanwhile ({@link Child#finish}). */
    private static Result finish(Process process) throws Exception {
        Child.Result result = Child.finish(process, Duration.ofSeconds(120));
        return new Result(result.exitCode(), result.output());
    }

    /** The command line that runs {@code main} with {@code args} in a child JVM, for wrapping in another command. */
    public static List<String> command(Class<?> main, String... args) {
        return command(classpath(), main, args);
    }

    private static List<String> command(String classpath, Class<?> main, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:-UsePerfData", "-XX:+UseSerialGC", "-Xmx64m",
                "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
                "-cp", classpath, main.getName()));
        command.addAll(List.of(args));
        return command;
    }

    private static String classpath() {
        String classpath = System.getProperty("xpfo.test.classpath");
        if (classpath == null || classpath.isBlank()) {
            throw new IllegalStateException("xpfo.test.classpath is not set: run the tests through Maven (./xpfo test)");
        }
        return classpath;
    }

    private static void copyTree(Path from, Path to) {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path source : (Iterable<Path>) walk::iterator) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                    target.toFile().setReadable(true, false);
                    target.toFile().setExecutable(true, false);
                } else {
                    Files.copy(source, target);
                    target.toFile().setReadable(true, false);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
