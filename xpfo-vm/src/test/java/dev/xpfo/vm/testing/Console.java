// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A child process's output, read line by line on a thread of its own, waited on by pattern. */
public final class Console {
    private final List<String> lines = new ArrayList<>();
    private boolean ended;

    public Console(InputStream output) {
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(output, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (this) {
                        lines.add(line);
                        notifyAll();
                    }
                }
            } catch (IOException e) {
                // the process ended
            } finally {
                synchronized (this) {
                    ended = true;
                    notifyAll();
                }
            }
        }, "console");
        reader.setDaemon(true);
        reader.start();
    }

    /** The first line matching {@code pattern} (anywhere in it), waiting up to {@code timeout}. */
    public synchronized Matcher await(Pattern pattern, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int seen = 0; ; ) {
            for (; seen < lines.size(); seen++) {
                Matcher matcher = pattern.matcher(lines.get(seen));
                if (matcher.find()) {
                    return matcher;
                }
            }
            long left = deadline - System.nanoTime();
            if (ended || left <= 0) {
                throw new AssertionError("no line matching " + pattern + (ended ? " before the output ended" : " in "
                        + timeout) + "; output:\n" + String.join("\n", lines));
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    public synchronized String output() {
        return String.join("\n", lines);
    }
}
