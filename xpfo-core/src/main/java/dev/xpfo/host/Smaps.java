// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Reads a process's mappings from an smaps file ({@code /proc/self/smaps}): where each is, its permissions, file and flags. */
public final class Smaps {
    private Smaps() {
    }

    /** The mapping of {@code smaps} (such as {@code /proc/self/smaps}) that contains {@code address}. */
    public static Optional<MapsEntry> find(Path smaps, long address) {
        return entries(smaps).stream().filter(e -> e.contains(address)).findFirst();
    }

    /** Every mapping in {@code smaps}, in address order; none if it cannot be read. */
    public static List<MapsEntry> entries(Path smaps) {
        return MapsEntry.parseAll(ProcFiles.read(smaps));
    }
}
