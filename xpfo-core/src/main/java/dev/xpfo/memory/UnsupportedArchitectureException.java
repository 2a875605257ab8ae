// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import java.util.List;

/**
 * xpfo does not know this processor architecture's system call numbers, flag values or structure
 * layouts, so it refuses to call the kernel at all rather than make a call with another
 * architecture's numbers (on arm64, x86-64's {@code gettid} number is {@code msgget}).
 */
public final class UnsupportedArchitectureException extends XpfoException {
    private final String architecture;

    public UnsupportedArchitectureException(String architecture, List<String> supported) {
        super("xpfo does not support the " + architecture + " architecture: it knows the Linux system call "
                + "numbers and structure layouts of " + String.join(" and ", supported) + " only");
        this.architecture = architecture;
    }

    /** The architecture refused, as the JVM names it ({@code os.arch}). */
    public String architecture() {
        return architecture;
    }
}
