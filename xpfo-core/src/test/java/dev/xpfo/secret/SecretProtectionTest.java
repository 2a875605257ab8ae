// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PageSize;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What protects a secret beyond the kernel: wiping, canaries, guard pages, a cleaner for leaks, and
 * packing so that many secrets need few mappings. Checked through a test-only raw view of the slots.
 */
class SecretProtectionTest {
    private static final long CHUNK = 256 * Bytes.KIB;
    private PagePool pool;
    private SecretStore store;

    @BeforeEach
    void open() {
        SecretMemory.assumeAvailable();
        pool = PagePool.open(PoolSettings.defaults().withChunkBytes(CHUNK));
        store = SecretStore.open(pool);
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
            pool.close();
        }
    }

    private static MemorySegment raw(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    @Test
    void destroyWipesTheSecretAndItsCanaries() {
        Secret secret = store.allocate(100);
        secret.readWrite(view -> view.fill((byte) 0x77));
        long slot = secret.slotAddress();
        long stride = SizeClasses.stride(SizeClasses.of(100));
        assertThat(raw(slot, stride).get(ValueLayout.JAVA_LONG, 0)).as("front canary").isNotZero();
        secret.close();
        assertThat(raw(slot, stride).mismatch(MemorySegment.ofArray(new byte[(int) stride]))).isEqualTo(-1);
    }

    @Test
    void anOverrunPastTheEndIsCaughtByTheBackCanaryOnDestroy() {
        Secret secret = store.allocate(20);
        secret.readWrite(view -> view.fill((byte) 0x33));
        raw(secret.dataAddress(), 21).set(ValueLayout.JAVA_BYTE, 20, (byte) 1);
        assertThatThrownBy(secret::close).isInstanceOf(CanaryCorruptedException.class)
                .hasMessageContaining("back canary").hasMessageContaining("20 bytes");
        assertThat(store.stats().canaryFailures()).isEqualTo(1);
        assertThat(raw(secret.dataAddress(), 20).mismatch(MemorySegment.ofArray(new byte[20]))).isEqualTo(-1);
        secret.close();
        assertThat(store.stats().canaryFailures()).isEqualTo(1);
    }

    @Test
    void anUnderrunIsCaughtByTheFrontCanaryAndTheSlotIsNeverReused() {
        Secret secret = store.allocate(16);
        long slot = secret.slotAddress();
        raw(slot, 8).set(ValueLayout.JAVA_BYTE, 7, (byte) 0x13);
        assertThatThrownBy(secret::close).isInstanceOf(CanaryCorruptedException.class).hasMessageContaining("front canary");
        for (int i = 0; i < 100; i++) {
            try (Secret next = store.allocate(16)) {
                assertThat(next.slotAddress()).isNotEqualTo(slot);
            }
        }
    }

    @Test
    void theLargestSecretFitsEvenWhenThePoolsChunksAreSmallerThanItsSlot() {
        try (PagePool small = PagePool.open(PoolSettings.defaults().withChunkBytes(PageSize.BYTES));
             SecretStore tiny = SecretStore.open(small)) {
            for (int size : new int[] {SecretStore.MAX_SECRET_BYTES, 8000, 4096, 1}) {
                try (Secret secret = tiny.allocate(size)) {
                    secret.readWrite(view -> view.fill((byte) 1));
                }
            }
            assertThat(tiny.stats().canaryFailures()).isZero();
        }
    }

    @Test
    void closingThePoolFirstClosesTheStoreAndItsSecretsRefuseUse() throws Exception {
        Secret kept = store.copyOf(new byte[] {1, 2, 3});
        Leak leak = leakOne();
        pool.close();
        assertThat(kept.isDestroyed()).isTrue();
        assertThatThrownBy(() -> kept.read(0, new byte[3], 0, 3)).isInstanceOf(dev.xpfo.memory.XpfoClosedException.class);
        assertThatThrownBy(() -> store.allocate(8)).isInstanceOf(dev.xpfo.memory.XpfoClosedException.class);
        // The leaked secret's cleanup must find the store closed and touch nothing: wait until the cleaner
        // has dealt with it, then nothing may have been counted.
        SecretStats closed = store.stats();
        awaitCleaner(leak);
        kept.close();
        assertThat(store.stats()).isEqualTo(closed);
        assertThat(store.stats().leakCleanups()).isZero();
    }

    @Test
    void slabsAreSecretMemoryBetweenAnonymousGuardPages() {
        try (Secret secret = store.allocate(32)) {
            Path smaps = Path.of("/proc/self/smaps");
            MapsEntry slab = Smaps.find(smaps, secret.dataAddress()).orElseThrow();
            assertThat(slab.isSecretMemory()).isTrue();
            MapsEntry before = Smaps.find(smaps, slab.start() - 1).orElseThrow();
            MapsEntry after = Smaps.find(smaps, slab.end()).orElseThrow();
            assertThat(before.permissions()).isEqualTo("---p");
            assertThat(after.permissions()).isEqualTo("---p");
            assertThat(before.isSecretMemory() || after.isSecretMemory()).isFalse();
            assertThat(before.end() - before.start()).isGreaterThanOrEqualTo(PageSize.BYTES);
        }
    }

    @Test
    void aSecretNeverDestroyedIsWipedByTheCleanerAndCounted() throws Exception {
        Leak leak = leakOne();
        awaitCleaner(leak);
        assertThat(store.stats().leakCleanups()).isEqualTo(1);
        assertThat(store.stats().liveSecrets()).isZero();
        assertThat(raw(leak.address(), 64).mismatch(MemorySegment.ofArray(new byte[64]))).isEqualTo(-1);
    }

    /** A secret nobody references any more: where its bytes were, and the cleaner's reference to it. */
    private record Leak(long address, LeakWatch.Tracked watch) {
    }

    private Leak leakOne() {
        Secret leaked = store.allocate(64);
        leaked.readWrite(view -> view.fill((byte) 0x42));
        return new Leak(leaked.dataAddress(), leaked.watch());
    }

    /**
     * Collects garbage until the cleaner thread has dealt with the leaked secret (it counts down the
     * reference's latch after its attempt, whatever the outcome); gives up after 3,000 collections.
     */
    private static void awaitCleaner(Leak leak) throws InterruptedException {
        for (int i = 0; i < 3000; i++) {
            System.gc();
            if (leak.watch().handled.await(10, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                return;
            }
        }
        throw new AssertionError("the leaked secret was not handled by the cleaner after 3,000 collections");
    }

    @Test
    void aHundredThousandLiveSecretsShareAFewMappings() throws Exception {
        long mappingsBefore = Files.readAllLines(Path.of("/proc/self/maps")).size();
        List<Secret> secrets = new ArrayList<>(100_000);
        byte[] value = new byte[32];
        for (int i = 0; i < 100_000; i++) {
            Secret secret = store.allocate(32);
            value[0] = (byte) i;
            secret.write(0, value, 0, 32);
            secrets.add(secret);
        }
        long mappingsAfter = Files.readAllLines(Path.of("/proc/self/maps")).size();
        long slabs = store.stats().slabBytes() / CHUNK;
        assertThat(mappingsAfter - mappingsBefore).isLessThanOrEqualTo(3 * slabs + 10).isLessThan(200);
        assertThat(store.stats().liveSecrets()).isEqualTo(100_000);
        assertThat(store.stats().bytesInUse()).isEqualTo(32L * 100_000);
        byte[] back = new byte[1];
        for (int i = 0; i < secrets.size(); i++) {
            secrets.get(i).read(0, back, 0, 1);
            assertThat(back[0]).isEqualTo((byte) i);
        }
        secrets.forEach(Secret::close);
        assertThat(store.stats().liveSecrets()).isZero();
    }
}
