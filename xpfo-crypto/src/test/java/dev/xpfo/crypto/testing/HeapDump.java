// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import dev.xpfo.testing.Child;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A heap dump of another JVM, taken from outside as an operator (or an attacker with the same rights) would. */
public final class HeapDump {
    private HeapDump() {
    }

    /**
     * Runs {@code jcmd PID GC.heap_dump -all FILE}: every object, unreachable ones too (what a finished
     * operation left behind and the collector has not yet reclaimed).
     *
     * @throws IllegalStateException if jcmd fails or writes no file
     */
    public static Path take(long pid, Path file, Duration timeout) throws Exception {
        Child.Result jcmd = Child.run(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(pid), "GC.heap_dump", "-all", file.toString()), timeout);
        if (jcmd.exitCode() != 0 || !Files.isRegularFile(file)) {
            throw new IllegalStateException("jcmd GC.heap_dump failed (exit " + jcmd.exitCode() + "): " + jcmd.output());
        }
        return file;
    }
}
