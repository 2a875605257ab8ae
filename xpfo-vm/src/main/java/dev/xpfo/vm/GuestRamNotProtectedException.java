// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.memory.XpfoException;

/**
 * QEMU did not get as far as running the guest with all its RAM confirmed as secret memory (it exited,
 * its RAM was not secret memory in time, or it could not be let run); the launcher said why.
 */
public final class GuestRamNotProtectedException extends XpfoException {
    private final int exitCode;

    GuestRamNotProtectedException(int exitCode) {
        super("QEMU's guest RAM was not confirmed as secret memory; the guest did not run");
        this.exitCode = exitCode;
    }

    /** What {@code xpfo vm} exits with: QEMU's own code if it exited with one, else {@link VmLauncher#NOT_PROTECTED}. */
    public int exitCode() {
        return exitCode;
    }
}
