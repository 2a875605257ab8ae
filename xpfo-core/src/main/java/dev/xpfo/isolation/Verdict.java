// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

/** The outcome of an {@link IsolationCheck}, with the exit code {@code xpfo check} returns for it. */
public enum Verdict {
    /** Every read from another process was refused, the marker was never found, the flags are set. */
    PROTECTED(0),
    /** Some read succeeded, the marker was found, or a required flag is missing. */
    EXPOSED(1),
    /** Nothing could be proven: secret memory is unavailable, or the reads failed on ordinary memory too. */
    INCONCLUSIVE(2);

    private final int exitCode;

    Verdict(int exitCode) {
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
