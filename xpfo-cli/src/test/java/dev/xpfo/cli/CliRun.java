// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * One {@code xpfo} command run in this JVM, as a script would see it: exit code and output (standard
 * output and error together).
 */
record CliRun(int exitCode, String out) {
    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        int code = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(out)).execute(args);
        return new CliRun(code, out.toString());
    }

    JsonNode json() {
        try {
            return new ObjectMapper().readTree(out);
        } catch (IOException e) {
            throw new AssertionError("not JSON:\n" + out, e);
        }
    }
}
