// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.SecretMemoryFiles;

import java.util.Optional;

/** What backs a mapping, as far as the direct map is concerned. */
public enum MappingKind {
    /** A secret memory file ({@link SecretMemoryFiles}: the kernel's name on the kernel's device): out of the direct map. */
    SECRET_MEMORY,
    /** A memfd ({@code /memfd:NAME}), as QEMU's memory-backend-memfd: ordinary pages. */
    MEMFD,
    /** Any other file mapped shared ({@code /dev/shm}, hugetlbfs, a file merely named like secret memory, ...). */
    SHARED_FILE,
    /** Private anonymous memory (also named with {@code PR_SET_VMA_ANON_NAME}, or of huge pages). */
    ANONYMOUS,
    /** Code, libraries, stacks and other labels. */
    OTHER;

    /**
     * What backs {@code mapping}, secret memory being that of device {@code secretDevice} (empty on a
     * kernel without secret memory: then nothing is).
     */
    public static MappingKind of(MapsEntry mapping, Optional<DeviceNumber> secretDevice) {
        String path = mapping.path();
        if (secretDevice.isPresent() && SecretMemoryFiles.isSecretMemory(mapping, secretDevice.get())) {
            return SECRET_MEMORY;
        }
        if (path.startsWith("/memfd:")) {
            return MEMFD;
        }
        if (path.isEmpty() || path.startsWith("[anon:") || path.startsWith("/anon_hugepage")) {
            return mapping.isShared() ? SHARED_FILE : ANONYMOUS;
        }
        if (path.startsWith("/") && mapping.isShared()) {
            return SHARED_FILE;
        }
        return OTHER;
    }
}
