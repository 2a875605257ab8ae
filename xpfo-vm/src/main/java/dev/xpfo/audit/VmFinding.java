// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import java.util.List;

/**
 * One virtual machine monitor process and how much of its guest RAM is out of the direct map.
 *
 * @param pid                the VMM process
 * @param uid                its owner
 * @param vmm                which VMM ({@code QEMU}, {@code Cloud Hypervisor}, ...)
 * @param executable         its executable's name
 * @param guestRamBytes      its guest RAM
 * @param guestRamFrom       how that was found: its command line, or estimated from its mappings
 * @param directMapFreeBytes guest RAM in secret memory
 * @param exposedBytes       guest RAM in ordinary memory, reachable through the kernel's direct map
 * @param mappings           the mappings that may hold guest RAM, grouped
 * @param coreCookie         its core-scheduling cookie: 0 none, -1 unknown (no core scheduling, or not inspectable)
 * @param coreScheduling     its core-scheduling state, in words
 * @param verdict            one line for an operator
 */
public record VmFinding(long pid, int uid, String vmm, String executable, long guestRamBytes, String guestRamFrom,
                        long directMapFreeBytes, long exposedBytes, List<MappingGroup> mappings, long coreCookie, String coreScheduling,
                        String verdict) {
    /**
     * Mappings of one kind and name.
     *
     * @param kind  what backs them
     * @param name  the file or label (secret memory's, {@code /memfd:memory-backend-memfd}) without its
     *              {@code " (deleted)"}, empty if anonymous
     * @param count how many mappings
     * @param bytes their total size
     */
    public record MappingGroup(MappingKind kind, String name, int count, long bytes) {
    }

    public boolean fullyDirectMapFree() {
        return guestRamBytes > 0 && exposedBytes == 0;
    }
}
