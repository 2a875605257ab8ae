// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

/** Where {@code xpfo vm} takes guest RAM from. */
public enum RamSource {
    /** Granted by the running {@code xpfo serve}: populated ahead, so out of the direct map before the guest runs. */
    SERVICE("service"),
    /**
     * A secret memory file QEMU's process creates itself: each page leaves the direct map when the guest
     * first touches it, paying a cross-CPU TLB flush then (cold).
     */
    SECRETMEM("secretmem");

    private final String preloadName;

    RamSource(String preloadName) {
        this.preloadName = preloadName;
    }

    /** The value of {@code XPFO_VM_RAM} that selects it in the preload library. */
    String preloadName() {
        return preloadName;
    }
}
