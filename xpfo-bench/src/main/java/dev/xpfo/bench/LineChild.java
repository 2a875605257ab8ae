// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A child process the bench commands line by line: it prints {@code ready} once set up (or {@code error:
 * ...} and exits), then answers each command with one line. Rows whose setup is process-global (a hook that
 * must precede libcrypto's first allocation, the JCA provider list) each get a process of their own, kept
 * alive across rounds so the rounds of all of them can be interleaved.
 */
final class LineChild implements AutoCloseable {
    private final String name;
    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private String ready;
    private boolean readyRead;

    private LineChild(String name, Process process) throws IOException {
        this.name = name;
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    /**
     * Starts {@code command} without waiting for it (children started one after another set themselves up in
     * parallel); its standard error goes to the bench's, so a child's complaint is seen.
     */
    static LineChild start(String name, List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new LineChild(name, process);
    }

    /**
     * Waits for the child's first line: null if it said {@code ready}; otherwise what it said instead (its
     * error, or that it died).
     */
    String problem() throws IOException {
        if (!readyRead) {
            ready = out.readLine();
            readyRead = true;
        }
        if (ready == null) {
            return name + " exited before it was ready";
        }
        return ready.startsWith("ready") ? null : name + ": " + ready;
    }

    /** What the child said after {@code ready} (what it set up), or null if it is not ready. */
    String readyDetail() throws IOException {
        return problem() == null ? ready.substring("ready".length()).trim() : null;
    }

    /** Sends one command and returns the child's answer; an {@code error:} answer or a dead child throws. */
    String ask(String command) throws IOException {
        if (problem() != null) {
            throw new IllegalStateException(problem());
        }
        in.write(command + "\n");
        in.flush();
        String answer = out.readLine();
        if (answer == null || answer.startsWith("error")) {
            throw new IllegalStateException(name + " answered '" + command + "' with " + (answer == null ? "nothing (it exited)" : answer));
        }
        return answer;
    }

    @Override
    public void close() throws InterruptedException {
        try {
            in.close(); // end of input: the child exits
        } catch (IOException ignored) {
            // already gone
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
