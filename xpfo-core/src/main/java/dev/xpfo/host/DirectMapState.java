// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.nio.file.Path;
import java.util.Map;

/**
 * How the kernel's direct map is laid out now: bytes mapped with 4 KiB, 2 MiB and 1 GiB pages
 * ({@code /proc/meminfo}), and how often a large page has been split since boot ({@code /proc/vmstat},
 * x86). Removing a 4 KiB page from a 2 MiB direct-map page splits it once; the counters only grow.
 * A value the kernel does not report is -1.
 */
public record DirectMapState(long bytes4k, long bytes2m, long bytes1g, long level2Splits, long level3Splits) {

    /** Reads the current state. */
    public static DirectMapState read() {
        String meminfo = ProcFiles.read(Path.of("/proc/meminfo"));
        Map<String, Long> vmstat = ProcFiles.counters(ProcFiles.read(Path.of("/proc/vmstat")));
        return new DirectMapState(
                meminfoBytes(meminfo, "DirectMap4k"),
                meminfoBytes(meminfo, "DirectMap2M"),
                meminfoBytes(meminfo, "DirectMap1G"),
                vmstat.getOrDefault("direct_map_level2_splits", -1L),
                vmstat.getOrDefault("direct_map_level3_splits", -1L));
    }

    private static long meminfoBytes(String meminfo, String field) {
        return ProcFiles.field(meminfo, field).map(ProcFiles::kilobytes).orElse(-1L);
    }
}
