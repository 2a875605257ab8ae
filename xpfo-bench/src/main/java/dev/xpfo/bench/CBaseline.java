// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The C program that calls {@code memfd_secret} directly (src/main/c), compiled by the bench script. */
final class CBaseline {
    private final Path binary;

    CBaseline(Path binary) {
        this.binary = binary;
    }

    /** Runs it with {@code args} and returns the nanoseconds it printed first. */
    long nanos(String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = binary.toString();
        System.arraycopy(args, 0, command, 1, args.length);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (process.waitFor() != 0) {
            throw new IllegalStateException("C baseline " + String.join(" ", args) + " failed: " + output);
        }
        return Long.parseLong(output.split("\\s+")[0]);
    }
}
