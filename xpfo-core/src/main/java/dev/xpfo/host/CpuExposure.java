// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What the kernel reports about the CPU's speculative-execution weaknesses and simultaneous
 * multithreading, the two facts that decide how much direct-map removal and core scheduling matter.
 *
 * @param vulnerabilities each file of {@code /sys/devices/system/cpu/vulnerabilities}, name to text
 * @param smtControl      {@code /sys/devices/system/cpu/smt/control}: on, off, forceoff, notsupported,
 *                        notimplemented, or "unknown"
 * @param smtActive       {@code /sys/devices/system/cpu/smt/active}: whether sibling threads run now
 */
public record CpuExposure(Map<String, String> vulnerabilities, String smtControl, boolean smtActive) {
    private static final Path CPU = Path.of("/sys/devices/system/cpu");

    public static CpuExposure read() {
        Map<String, String> vulnerabilities = new TreeMap<>();
        try (Stream<Path> files = Files.list(CPU.resolve("vulnerabilities"))) {
            files.forEach(f -> vulnerabilities.put(f.getFileName().toString(), ProcFiles.read(f).trim()));
        } catch (IOException e) {
            // An old kernel without the directory reports nothing; the map stays empty.
        }
        String control = ProcFiles.read(CPU.resolve("smt/control")).trim();
        boolean active = ProcFiles.read(CPU.resolve("smt/active")).trim().equals("1");
        return new CpuExposure(Map.copyOf(vulnerabilities), control.isEmpty() ? "unknown" : control, active);
    }
}
