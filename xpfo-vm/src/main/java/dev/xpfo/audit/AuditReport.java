// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import java.util.List;
import java.util.Map;

/**
 * What {@code xpfo audit} found on this host.
 *
 * @param scope            which processes were looked at, in words
 * @param wholeHost        true when run as root: every process was looked at
 * @param vms              every VMM process found
 * @param secretHolders    every other process holding secret memory
 * @param notInspected     processes in scope that could not be inspected, and why
 * @param vulnerabilities  the kernel's view of each CPU weakness ({@code /sys/devices/system/cpu/vulnerabilities})
 * @param smt              SMT control and whether sibling threads are active
 * @param coreScheduling   whether the kernel has core scheduling, in words
 * @param verdicts         one line for the host's VM memory, one for its cores
 */
public record AuditReport(String scope, boolean wholeHost, List<VmFinding> vms, List<SecretHolder> secretHolders,
                          List<String> notInspected, Map<String, String> vulnerabilities, String smt, String coreScheduling,
                          List<String> verdicts) {
    /** True if some VM's guest RAM was not found, so whether it is direct-map-free is unknown. */
    public boolean unknown() {
        return vms.stream().anyMatch(vm -> vm.guestRamBytes() == 0);
    }

    /** True if some VM has guest RAM in the direct map. */
    public boolean exposed() {
        return vms.stream().anyMatch(vm -> vm.exposedBytes() > 0);
    }
}
