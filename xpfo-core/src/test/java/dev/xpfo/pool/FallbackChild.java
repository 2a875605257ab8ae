// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.FailureInjection;
import dev.xpfo.memory.Bytes;

/**
 * Run by {@link PagePoolFallbackTest} in a JVM of its own: with {@code memfd_secret} failing as on a
 * kernel without secret memory, opens two pools that allow the fallback, so the test can count the
 * announcements on standard error.
 */
public final class FallbackChild {
    public static void main(String[] args) {
        FailureInjection.failMemfdSecret(Errno.ENOSYS);
        PoolSettings settings = PoolSettings.defaults().withChunkBytes(256 * Bytes.KIB)
                .withPolicy(IsolationPolicy.ALLOW_LOCKED_ONLY);
        try (PagePool first = PagePool.open(settings); PagePool second = PagePool.open(settings)) {
            System.out.println("isolation " + first.isolation() + " " + second.isolation());
        }
    }
}
