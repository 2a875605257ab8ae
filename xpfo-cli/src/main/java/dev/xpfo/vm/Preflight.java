package dev.xpfo.vm;

import java.util.List;

/**
 * The result of checking a QEMU command line before starting it.
 *
 * @param commandLine   the command line to run, with the rewrites applied
 * @param rewrites      each change made, in words, to be told to the user
 * @param refusals      what cannot run; QEMU must not be started if there is any
 * @param guestRamBytes the guest RAM in memory-backend-memfd objects, which the preload library
 *                      replaces with secret memory
 */
public record Preflight(QemuCommandLine commandLine, List<String> rewrites, List<Refusal> refusals, long guestRamBytes) {
    public Preflight {
        rewrites = List.copyOf(rewrites);
        refusals = List.copyOf(refusals);
    }

    public boolean refused() {
        return !refusals.isEmpty();
    }
}
