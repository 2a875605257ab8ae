// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The kernel's count of function-call interrupts ({@code CAL} in {@code /proc/interrupts}, summed
 * over CPUs): the IPIs it sends to flush other CPUs' TLBs, among other things. System-wide, so a
 * delta also counts whatever else ran meanwhile.
 */
public final class CallInterrupts {
    private CallInterrupts() {
    }

    /** The sum of the {@code CAL} line over all CPUs, or -1 if the kernel does not report it. */
    public static long total() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/interrupts"))) {
                String trimmed = line.trim();
                if (trimmed.startsWith("CAL:")) {
                    long sum = 0;
                    for (String field : trimmed.substring(4).trim().split("\\s+")) {
                        if (!field.chars().allMatch(Character::isDigit)) {
                            break;
                        }
                        sum += Long.parseLong(field);
                    }
                    return sum;
                }
            }
        } catch (IOException e) {
            // No /proc/interrupts: report -1 below.
        }
        return -1;
    }
}
