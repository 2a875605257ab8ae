// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

/**
 * A {@code VmFlags} entry of {@code /proc/PID/smaps} that secret memory must carry.
 *
 * @param flag    the two-letter flag, such as {@code lo}
 * @param meaning what it guarantees
 * @param present whether the mapping has it
 */
public record MappingFlag(String flag, String meaning, boolean present) {
}
