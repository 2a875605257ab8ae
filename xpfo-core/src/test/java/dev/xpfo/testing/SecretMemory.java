// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.testing;

import dev.xpfo.host.SecretMemorySupport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Tests skip, saying why, only where the kernel lacks secret memory. */
public final class SecretMemory {
    private static final SecretMemorySupport SUPPORT = SecretMemorySupport.probe();

    private SecretMemory() {
    }

    public static void assumeAvailable() {
        assumeTrue(SUPPORT.available(), () -> "skipped: this kernel or process cannot use memfd_secret: " + SUPPORT.reason());
    }
}
