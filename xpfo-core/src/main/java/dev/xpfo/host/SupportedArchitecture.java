// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Architecture;
import dev.xpfo.memory.UnsupportedArchitectureException;

/**
 * Whether xpfo knows this machine's system call numbers and structure layouts: x86-64 and arm64 only.
 * Programs call {@link #requireThisMachine()} first, so that another architecture is refused at start,
 * not half way through a command.
 */
public final class SupportedArchitecture {
    private SupportedArchitecture() {
    }

    /**
     * Returns if this machine is one xpfo supports.
     *
     * @throws UnsupportedArchitectureException naming this architecture and the supported ones
     */
    public static void requireThisMachine() {
        Architecture.current();
    }
}
