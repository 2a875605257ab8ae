// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import java.util.concurrent.TimeUnit;

/** A process started for the user (a VMM, a command), stopped with the launcher rather than left behind. */
public final class ChildProcess {
    private ChildProcess() {
    }

    /**
     * Waits for {@code child} to exit; if this JVM is stopped first (SIGTERM, Ctrl-C), stops the child
     * and what it started.
     *
     * @return the child's exit code
     */
    public static int awaitStoppingOnExit(Process child) throws InterruptedException {
        Thread stopper = new Thread(() -> stop(child), "xpfo-stop-child");
        Runtime.getRuntime().addShutdownHook(stopper);
        int exit = child.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(stopper);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway and finds the child gone
        }
        return exit;
    }

    /** SIGTERM to the child and everything it started, SIGKILL after 10 s. */
    static void stop(Process child) {
        child.descendants().forEach(ProcessHandle::destroy);
        if (!child.isAlive()) {
            return;
        }
        child.destroy();
        try {
            if (!child.waitFor(10, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
        } catch (InterruptedException e) {
            child.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
