// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run by {@link SecretConcurrencyTest} in a JVM of its own, because the failure it looks for is a crash:
 * threads allocate, write, read and close secrets while the main thread closes the pool under them,
 * as a shutdown hook would. Every thread must stop with an exception that says the store is closed.
 */
public final class CloseRaceChild {
    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int threads = 4;
        AtomicLong refused = new AtomicLong();
        AtomicLong unexpected = new AtomicLong();
        for (int round = 0; round < rounds; round++) {
            PagePool pool = PagePool.open(PoolSettings.defaults().withChunkBytes(256 * Bytes.KIB));
            SecretStore store = SecretStore.open(pool);
            CountDownLatch started = new CountDownLatch(threads);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(Thread.ofPlatform().start(() -> {
                    started.countDown();
                    byte[] value = new byte[24];
                    try {
                        while (true) {
                            try (Secret secret = store.allocate(24)) {
                                secret.write(0, value, 0, 24);
                                secret.read(0, value, 0, 24);
                            }
                        }
                    } catch (XpfoClosedException | IllegalStateException closed) {
                        refused.incrementAndGet();
                    } catch (Throwable e) {
                        if (unexpected.incrementAndGet() < 3) {
                            e.printStackTrace();
                        }
                    }
                }));
            }
            started.await();
            Thread.sleep(0, ThreadLocalRandom.current().nextInt(500_000));
            pool.close();
            for (Thread worker : workers) {
                worker.join();
            }
        }
        System.out.println("rounds " + rounds + " threads stopped by the close " + refused + " unexpected " + unexpected);
    }
}
