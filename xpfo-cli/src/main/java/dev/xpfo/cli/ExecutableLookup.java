// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds a command as a shell does before running it: a name with a slash is a path, any other name
 * is looked up in each {@code PATH} directory in order. Lets {@code xpfo run} answer "command not
 * found" (127) and "not executable" (126) like a shell, before it starts anything.
 */
final class ExecutableLookup {
    /** The shell's exit code for a command that does not exist. */
    static final int NOT_FOUND = 127;
    /** The shell's exit code for a command that exists but cannot be run. */
    static final int NOT_EXECUTABLE = 126;

    private ExecutableLookup() {
    }

    /** The file a shell would run for {@code name}, if there is one (it may still not be executable). */
    static Optional<Path> find(String name, String searchPath) {
        if (name.isEmpty()) {
            return Optional.empty();
        }
        if (name.contains("/")) {
            Path path = Path.of(name);
            return Files.exists(path) ? Optional.of(path) : Optional.empty();
        }
        Path firstFound = null;
        for (String dir : (searchPath == null ? "" : searchPath).split(":", -1)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
            if (firstFound == null && Files.exists(candidate) && !Files.isDirectory(candidate)) {
                firstFound = candidate;
            }
        }
        return Optional.ofNullable(firstFound);
    }

    /** Whether the file can be run: a regular file this process may execute. */
    static boolean runnable(Path path) {
        return Files.isRegularFile(path) && Files.isExecutable(path);
    }
}
