// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import java.util.Optional;

/** The virtual machine monitors the audit recognises, by executable name. */
public enum Vmm {
    QEMU("QEMU"),
    FIRECRACKER("Firecracker"),
    CLOUD_HYPERVISOR("Cloud Hypervisor"),
    CROSVM("crosvm");

    private final String title;

    Vmm(String title) {
        this.title = title;
    }

    public String title() {
        return title;
    }

    /** The VMM an executable is, if any. */
    public static Optional<Vmm> of(String executable) {
        if (executable.startsWith("qemu-system-") || executable.equals("qemu-kvm")) {
            return Optional.of(QEMU);
        }
        return switch (executable) {
            case "firecracker" -> Optional.of(FIRECRACKER);
            case "cloud-hypervisor" -> Optional.of(CLOUD_HYPERVISOR);
            case "crosvm" -> Optional.of(CROSVM);
            default -> Optional.empty();
        };
    }
}
