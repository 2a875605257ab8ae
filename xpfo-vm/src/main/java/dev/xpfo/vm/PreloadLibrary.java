// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.memory.XpfoException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The native library QEMU is started with ({@code LD_PRELOAD}) so that its guest RAM is secret
 * memory: built from {@code clients/qemu} by {@code ./xpfo build} with the system's C compiler.
 */
public final class PreloadLibrary {
    /** The system property the launcher script sets to the built library. */
    public static final String PROPERTY = "xpfo.vm.preload";

    private PreloadLibrary() {
    }

    /**
     * The library: {@code -Dxpfo.vm.preload}, else {@code $XPFO_VM_PRELOAD}.
     *
     * @throws XpfoException if neither names a readable file
     */
    public static Path locate() {
        String configured = System.getProperty(PROPERTY, System.getenv("XPFO_VM_PRELOAD"));
        if (configured == null || configured.isBlank()) {
            throw new XpfoException("the QEMU preload library (libxpfo-vm.so) is not configured: run xpfo vm through "
                    + "./xpfo, which builds it from clients/qemu with cc, or set XPFO_VM_PRELOAD to its path");
        }
        Path library = Path.of(configured).toAbsolutePath();
        if (!Files.isReadable(library)) {
            throw new XpfoException("the QEMU preload library " + library + " does not exist: build it with "
                    + "./xpfo build (needs a C compiler: apt-get install gcc)");
        }
        return library;
    }
}
