// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import dev.xpfo.crypto.OpenSslException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The one place where libcrypto's error queue becomes an exception: every failed call's owner asks
 * for {@link #failure}, which drains the calling thread's queue (so a later call never reports an
 * earlier failure).
 */
public final class OpenSslErrors {
    private static final int MESSAGE_BYTES = 256;

    private OpenSslErrors() {
    }

    /**
     * Drains this thread's error queue into an exception naming {@code call} and what it was doing. A
     * malloc failure is xpfo's heap unable to grow: the message then says how full it is and the remedy.
     */
    public static OpenSslException failure(String call, String explanation) {
        List<String> errors = drain();
        if (errors.stream().anyMatch(error -> error.contains("malloc failure"))) {
            long max = HeapLibrary.maxBytes();
            explanation += "; libcrypto's secret-memory heap is full (" + HeapLibrary.arenaBytes() + " bytes of secret memory, "
                    + HeapLibrary.inUseBytes() + " in use, maximum " + (max == 0 ? "none" : max + " bytes")
                    + "). Remedy: raise RLIMIT_MEMLOCK (ulimit -l, systemd LimitMEMLOCK=) or the maximum "
                    + "(-Dxpfo.crypto.heap.maxBytes), or hold fewer keys at once (destroy keys no longer needed)";
        }
        return new OpenSslException(call, explanation, errors);
    }

    /** Empties this thread's error queue, returning libcrypto's messages oldest first. */
    public static List<String> drain() {
        List<String> errors = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment text = arena.allocate(MESSAGE_BYTES);
            for (long error = LibCrypto.errGetError(); error != 0; error = LibCrypto.errGetError()) {
                LibCrypto.errErrorStringN(error, text, MESSAGE_BYTES);
                errors.add(text.getString(0));
            }
        }
        return errors;
    }
}
