// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Run as an ordinary user with a 4 MiB memlock limit by {@link PagePoolLimitsTest}: prints what the pool
 * allowed and how it refused, one fact per line.
 */
public final class PoolMemlockChild {
    public static void main(String[] args) {
        PoolSettings settings = PoolSettings.defaults().withChunkBytes(Bytes.MIB).withMaximumBytes(64 * Bytes.MIB);
        try (PagePool pool = PagePool.open(settings)) {
            PoolStats stats = pool.stats();
            System.out.println("maximum " + stats.maximumBytes() + " set by " + stats.maximumSetBy());
            pool.warm(4 * Bytes.MIB, PopulateProgress.NONE);
            System.out.println("warmed " + pool.stats().readyBytes());
            try (Region all = pool.take(4 * Bytes.MIB)) {
                System.out.println("took " + all.byteSize());
                try {
                    pool.take(Bytes.MIB).close();
                    System.out.println("fifth chunk taken");
                } catch (PoolLimitException e) {
                    System.out.println("fifth chunk refused " + e.limit() + ": " + e.getMessage());
                }
            }
        }
        // Memory locked outside the pool counts too: the kernel refuses the chunk that no longer fits,
        // in the middle of a cold take; what the take had in hand goes back to the ready set.
        try (XpfoFile outside = XpfoFile.create(2 * Bytes.MIB); Mapping held = outside.map();
             PagePool pool = PagePool.open(settings)) {
            pool.warm(Bytes.MIB, PopulateProgress.NONE);
            try {
                pool.take(4 * Bytes.MIB).close();
                System.out.println("took past the limit");
            } catch (PoolLimitException e) {
                System.out.println("kernel refused " + e.limit() + " cause " + e.getCause().getClass().getSimpleName()
                        + ": " + e.getMessage());
            }
            PoolStats stats = pool.stats();
            System.out.println("after the refusal ready " + stats.readyBytes() + " in use " + stats.inUseBytes()
                    + " populating " + stats.populatingBytes() + " peak " + stats.peakInUseBytes()
                    + " secret mappings " + secretMappings());
        }
        // Secrets of every size class fit in a small memlock allowance: slabs are carved from chunks.
        try (PagePool pool = PagePool.open(settings); SecretStore store = SecretStore.open(pool)) {
            List<Secret> secrets = new ArrayList<>();
            for (int size = 1; size <= SecretStore.MAX_SECRET_BYTES; size *= 2) {
                secrets.add(store.allocate(size));
            }
            System.out.println("every size class allocated, " + secrets.size() + " secrets in "
                    + store.stats().slabBytes() + " bytes of chunks");
            secrets.forEach(Secret::close);
        }
    }

    private static long secretMappings() {
        return Smaps.entries(Path.of("/proc/self/smaps")).stream().filter(MapsEntry::isSecretMemory).count();
    }
}
