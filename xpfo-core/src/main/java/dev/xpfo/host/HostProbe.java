// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

/**
 * Everything xpfo needs to know about this host before promising protection: whether secret memory
 * works here, the memlock budget, the direct map's state, the CPU's exposure, core scheduling and KVM.
 */
public record HostProbe(
        String kernel,
        SecretMemorySupport secretMemory,
        MemlockLimit memlock,
        DirectMapState directMap,
        CpuExposure cpu,
        CoreSchedulingSupport coreScheduling,
        KvmSupport kvm) {

    /** Probes this host from this process (memlock and capabilities are this process's). */
    public static HostProbe run() {
        return new HostProbe(
                ProcFiles.read(java.nio.file.Path.of("/proc/sys/kernel/osrelease")).trim(),
                SecretMemorySupport.probe(),
                MemlockLimit.current(),
                DirectMapState.read(),
                CpuExposure.read(),
                CoreSchedulingSupport.probe(),
                KvmSupport.probe());
    }
}
