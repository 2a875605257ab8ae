// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import java.util.List;

/**
 * The result of checking a QEMU command line before starting it.
 *
 * @param commandLine   the command line to run, with the rewrites applied
 * @param rewrites      each change made, in words, to be told to the user
 * @param refusals      what cannot run; QEMU must not be started if there is any
 * @param backendBytes  the size of each memory-backend-memfd object: the preload library replaces
 *                      each with secret memory (one grant each)
 */
public record Preflight(QemuCommandLine commandLine, List<String> rewrites, List<Refusal> refusals, List<Long> backendBytes) {
    public Preflight {
        rewrites = List.copyOf(rewrites);
        refusals = List.copyOf(refusals);
        backendBytes = List.copyOf(backendBytes);
    }

    /** All guest RAM, which must all turn out secret memory. */
    public long guestRamBytes() {
        return backendBytes.stream().mapToLong(Long::longValue).sum();
    }

    public boolean refused() {
        return !refusals.isEmpty();
    }
}
