package dev.xpfo.pool;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.memory.XpfoFile;

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
        // Memory locked outside the pool counts too: the kernel refuses the chunk that no longer fits.
        try (XpfoFile outside = XpfoFile.create(2 * Bytes.MIB); Mapping held = outside.map();
             PagePool pool = PagePool.open(settings)) {
            pool.warm(4 * Bytes.MIB, PopulateProgress.NONE);
            System.out.println("warmed past the limit");
        } catch (PoolLimitException e) {
            System.out.println("kernel refused " + e.limit() + " cause " + e.getCause().getClass().getSimpleName()
                    + ": " + e.getMessage());
        }
    }
}
