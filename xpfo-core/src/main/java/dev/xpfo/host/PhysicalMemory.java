// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.nio.file.Path;

/** This machine's RAM, from {@code MemTotal} in {@code /proc/meminfo}, read once. */
public final class PhysicalMemory {
    private static final long TOTAL = ProcFiles.field(ProcFiles.read(Path.of("/proc/meminfo")), "MemTotal")
            .map(ProcFiles::kilobytes).orElse(Long.MAX_VALUE);

    private PhysicalMemory() {
    }

    /** The machine's memory in bytes; {@link Long#MAX_VALUE} if the kernel does not say. */
    public static long totalBytes() {
        return TOTAL;
    }
}
