// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The one way the tests run a process to its end: its standard output and error are read on threads
 * of their own while the test waits, so a child that fills a pipe cannot block, and a child that hangs
 * (with or without printing) is killed, with everything it started, once {@code timeout} has passed;
 * the test then fails with what the child printed so far.
 */
public final class Child {
    /** How long a killed child's pipes may stay open before the readers give up on them. */
    private static final Duration AFTER_KILL = Duration.ofSeconds(10);

    /**
     * What a child printed and how it ended: {@code stdout} as bytes (some children print binary data),
     * {@code stderr} as text; a child started with {@code redirectErrorStream(true)} has an empty {@code stderr}.
     */
    public record Result(int exitCode, byte[] stdout, String stderr) {
        /** Standard output as UTF-8 text followed by standard error. */
        public String output() {
            return new String(stdout, StandardCharsets.UTF_8) + stderr;
        }
    }

    private Child() {
    }

    /** Runs {@code command}, its output and errors together, for at most {@code timeout}. */
    public static Result run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        return run(new ProcessBuilder(command).redirectErrorStream(true), timeout);
    }

    /** Starts {@code builder} and waits at most {@code timeout} for it, as {@link #finish} does. */
    public static Result run(ProcessBuilder builder, Duration timeout) throws IOException, InterruptedException {
        return finish(builder.start(), timeout);
    }

    /**
     * Waits at most {@code timeout} for {@code process} to exit while reading its output and errors.
     * If it has not exited by then, it and its descendants are killed and this throws an
     * {@link AssertionError} carrying what it printed.
     */
    public static Result finish(Process process, Duration timeout) throws InterruptedException {
        return watch(process).finish(timeout);
    }

    /**
     * Starts reading {@code process}'s output and errors on threads of their own, for a test that talks to
     * a child while it runs: {@link Watch#nextLine} waits for what it prints, {@link Watch#finish} for its end.
     */
    public static Watch watch(Process process) {
        return new Watch(process);
    }

    /** A running child whose output is being read; every wait on it is bounded. */
    public static final class Watch {
        private final Process process;
        private final Drain out;
        private final Drain err;
        private int linesTaken;

        private Watch(Process process) {
            this.process = process;
            this.out = Drain.start(process.getInputStream(), "stdout of " + process.pid());
            this.err = Drain.start(process.getErrorStream(), "stderr of " + process.pid());
        }

        /**
         * The next whole line of standard output, waiting at most {@code timeout} for it; if none comes, the
         * child and its descendants are killed and this throws an {@link AssertionError} with what it printed.
         */
        public String nextLine(Duration timeout) throws InterruptedException {
            String line = out.awaitLine(linesTaken, System.nanoTime() + timeout.toNanos());
            if (line == null) {
                killTree(process);
                throw new AssertionError("process " + process.pid() + " printed no line " + (linesTaken + 1) + " within "
                        + timeout.toMillis() + " ms" + (process.isAlive() ? "" : " (it ended)") + "; it printed:\n"
                        + out.text() + err.text());
            }
            linesTaken++;
            return line;
        }

        /** What the child printed so far, output then errors. */
        public String printed() {
            return out.text() + err.text();
        }

        /** As {@link Child#finish}: waits at most {@code timeout} for the child to exit. */
        public Result finish(Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            boolean exited = false;
            try {
                exited = process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS);
                if (exited) {
                    // Whatever the child left running may still hold its pipes: that too is bounded.
                    long left = Math.max(deadline - System.nanoTime(), TimeUnit.SECONDS.toNanos(1));
                    if (!out.join(left) || !err.join(left)) {
                        killTree(process);
                        out.join(AFTER_KILL.toNanos());
                        err.join(AFTER_KILL.toNanos());
                        throw new AssertionError("process " + process.pid() + " exited (" + process.exitValue() + ") but"
                                + " what it started kept its output open past " + timeout.toMillis() + " ms; it printed:\n"
                                + out.text() + err.text());
                    }
                    return new Result(process.exitValue(), out.bytes(), err.text());
                }
                killTree(process);
                out.join(AFTER_KILL.toNanos());
                err.join(AFTER_KILL.toNanos());
                throw new AssertionError("process " + process.pid() + " " + process.info().commandLine().orElse("")
                        + " did not finish in " + timeout.toMillis() + " ms and was killed with its descendants; it printed:\n"
                        + out.text() + err.text());
            } finally {
                if (!exited) {
                    killTree(process); // interrupted: leave nothing running
                }
            }
        }
    }

    /**
     * Kills {@code process} and every process below it, taking the list first so that none is
     * reparented out of reach while the tree is killed.
     */
    public static void killTree(Process process) {
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        process.destroyForcibly();
        tree.forEach(ProcessHandle::destroyForcibly);
        // A descendant may have forked between the snapshot and its death: sweep what is left.
        tree.forEach(handle -> handle.descendants().forEach(ProcessHandle::destroyForcibly));
        try {
            process.waitFor(AFTER_KILL.toMillis(), TimeUnit.MILLISECONDS);
            for (ProcessHandle handle : tree) {
                handle.onExit().get(AFTER_KILL.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // Killed with SIGKILL: a process still there now is a zombie its new parent has not reaped.
        }
    }

    /** One stream read to its end on its own thread, keeping what was read so far. */
    private static final class Drain implements Runnable {
        private final InputStream in;
        private final ByteArrayOutputStream read = new ByteArrayOutputStream();
        private final Thread thread;
        private IOException failure;
        private boolean ended;

        private Drain(InputStream in, String name) {
            this.in = in;
            this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this);
        }

        static Drain start(InputStream in, String name) {
            Drain drain = new Drain(in, name);
            drain.thread.start();
            return drain;
        }

        @Override
        public void run() {
            byte[] buffer = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    synchronized (read) {
                        read.write(buffer, 0, n);
                        read.notifyAll();
                    }
                }
            } catch (IOException e) {
                synchronized (read) {
                    failure = e;
                }
            } finally {
                synchronized (read) {
                    ended = true;
                    read.notifyAll();
                }
            }
        }

        /** Line {@code index} (from 0) once it is whole (or the stream ended after it), or null at the deadline. */
        String awaitLine(int index, long deadlineNanos) throws InterruptedException {
            synchronized (read) {
                while (true) {
                    List<String> lines = read.toString(StandardCharsets.UTF_8).lines().toList();
                    boolean whole = index < lines.size() - 1 || (index == lines.size() - 1
                            && (ended || read.toString(StandardCharsets.UTF_8).endsWith("\n")));
                    if (whole) {
                        return lines.get(index);
                    }
                    long left = deadlineNanos - System.nanoTime();
                    if (ended || left <= 0) {
                        return null;
                    }
                    TimeUnit.NANOSECONDS.timedWait(read, left);
                }
            }
        }

        boolean join(long nanos) throws InterruptedException {
            return thread.join(Duration.ofNanos(nanos));
        }

        byte[] bytes() {
            synchronized (read) {
                if (failure != null) {
                    throw new UncheckedIOException("reading " + thread.getName(), failure);
                }
                return read.toByteArray();
            }
        }

        String text() {
            synchronized (read) {
                return read.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
