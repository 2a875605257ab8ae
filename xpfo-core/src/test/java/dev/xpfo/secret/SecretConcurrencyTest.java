// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.Bytes;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Many threads allocating and freeing: no slot is lost or handed out twice, and every freed slot is zero. */
class SecretConcurrencyTest {

    @Test
    void threadsNeverShareALiveSlotAndEveryFreedSlotReadsBackZero() throws Exception {
        SecretMemory.assumeAvailable();
        try (PagePool pool = PagePool.open(PoolSettings.defaults().withChunkBytes(256 * Bytes.KIB));
             SecretStore store = SecretStore.open(pool)) {
            Map<Long, Long> liveSlots = new ConcurrentHashMap<>();
            Map<Long, Integer> everUsed = new ConcurrentHashMap<>();
            Set<String> failures = ConcurrentHashMap.newKeySet();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    long me = Thread.currentThread().threadId();
                    List<Secret> mine = new ArrayList<>();
                    for (int i = 0; i < 20_000; i++) {
                        if (mine.isEmpty() || random.nextInt(3) > 0 && mine.size() < 200) {
                            int size = 1 + random.nextInt(random.nextBoolean() ? 64 : 2048);
                            Secret secret = store.allocate(size);
                            if (liveSlots.putIfAbsent(secret.slotAddress(), me) != null) {
                                failures.add("slot handed out twice: " + Long.toHexString(secret.slotAddress()));
                            }
                            everUsed.merge(secret.slotAddress(), (int) SizeClasses.stride(SizeClasses.of(size)), Math::max);
                            if (secret.readOnly(view -> view.mismatch(MemorySegment.ofArray(new byte[size]))) != -1) {
                                failures.add("a new secret was not zero");
                            }
                            secret.readWrite(view -> view.fill((byte) me));
                            mine.add(secret);
                        } else {
                            Secret secret = mine.remove(random.nextInt(mine.size()));
                            byte expected = (byte) me;
                            if (secret.readOnly(view -> view.get(ValueLayout.JAVA_BYTE, view.byteSize() - 1)) != expected) {
                                failures.add("another thread wrote into a live secret");
                            }
                            liveSlots.remove(secret.slotAddress());
                            secret.close();
                        }
                    }
                    for (Secret secret : mine) {
                        liveSlots.remove(secret.slotAddress());
                        secret.close();
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            assertThat(failures).isEmpty();
            SecretStats stats = store.stats();
            assertThat(stats.liveSecrets()).isZero();
            assertThat(stats.bytesInUse()).isZero();
            assertThat(stats.allocations()).isEqualTo(stats.wipes());
            assertThat(stats.canaryFailures()).isZero();
            for (Map.Entry<Long, Integer> slot : everUsed.entrySet()) {
                MemorySegment raw = MemorySegment.ofAddress(slot.getKey()).reinterpret(slot.getValue());
                assertThat(raw.mismatch(MemorySegment.ofArray(new byte[slot.getValue()])))
                        .as("slot %x after every secret was freed", slot.getKey()).isEqualTo(-1);
            }
        }
    }

    @Test
    void closingThePoolUnderThreadsThatUseSecretsStopsThemWithAnErrorNotACrash() throws Exception {
        SecretMemory.assumeAvailable();
        TestJvm.Result result = TestJvm.run(CloseRaceChild.class, "30");
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("rounds 30 threads stopped by the close 120 unexpected 0");
    }
}
