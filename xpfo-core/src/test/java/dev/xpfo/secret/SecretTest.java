// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.memory.XpfoClosedException;
import dev.xpfo.pool.Isolation;
import dev.xpfo.pool.PagePool;
import dev.xpfo.pool.PoolSettings;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A secret's contents go in and out only through what the caller provides, and never show. */
class SecretTest {
    private PagePool pool;
    private SecretStore store;

    @BeforeEach
    void open() {
        SecretMemory.assumeAvailable();
        pool = PagePool.open(PoolSettings.defaults().withChunkBytes(256 * Bytes.KIB));
        store = SecretStore.open(pool);
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
            pool.close();
        }
    }

    @Test
    void aNewSecretIsZeroAndDirectMapFree() {
        try (Secret secret = store.allocate(48)) {
            byte[] contents = new byte[48];
            contents[0] = 1;
            secret.read(0, contents, 0, 48);
            assertThat(contents).containsOnly(0);
            assertThat(secret.size()).isEqualTo(48);
            assertThat(secret.isolation()).isEqualTo(Isolation.DIRECT_MAP_REMOVED);
            assertThat(store.isolation()).isEqualTo(Isolation.DIRECT_MAP_REMOVED);
        }
    }

    @Test
    void bytesWrittenFromAnArrayOrSegmentReadBackIntoCallersBuffers() {
        try (Secret secret = store.allocate(32); Arena arena = Arena.ofConfined()) {
            secret.write(0, "0123456789abcdef".getBytes(StandardCharsets.US_ASCII), 0, 16);
            secret.write(16, arena.allocateFrom("ghijklmnopqrstu"));
            MemorySegment target = arena.allocate(32);
            secret.read(0, target);
            assertThat(target.getString(0)).isEqualTo("0123456789abcdefghijklmnopqrstu");
            ByteBuffer direct = ByteBuffer.allocateDirect(4);
            secret.read(direct);
            assertThat(direct.position()).isEqualTo(4);
            assertThat(direct.get(0)).isEqualTo((byte) '0');
        }
    }

    @Test
    void readsAndWritesOutsideTheSecretAreRefused() {
        try (Secret secret = store.allocate(16)) {
            assertThatThrownBy(() -> secret.write(8, new byte[9], 0, 9)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> secret.read(-1, new byte[1], 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> secret.read(0, MemorySegment.ofArray(new byte[17]))).isInstanceOf(IndexOutOfBoundsException.class);
            secret.readWrite(view -> assertThatThrownBy(() -> view.get(ValueLayout.JAVA_BYTE, 16))
                    .isInstanceOf(IndexOutOfBoundsException.class));
        }
    }

    @Test
    void copyingFromAnArrayCharsOrBufferWipesTheSource() {
        byte[] bytes = {1, 2, 3, 4};
        char[] password = "correct horse".toCharArray();
        ByteBuffer heap = ByteBuffer.wrap(new byte[] {9, 8, 7});
        ByteBuffer direct = ByteBuffer.allocateDirect(3).put(new byte[] {6, 5, 4}).flip();
        try (Secret fromBytes = store.copyOf(bytes); Secret fromChars = store.copyOf(password);
             Secret fromHeap = store.copyOf(heap); Secret fromDirect = store.copyOf(direct)) {
            assertThat(bytes).containsOnly(0);
            assertThat(password).containsOnly('\0');
            assertThat(heap.array()).containsOnly(0);
            assertThat(heap.hasRemaining()).isFalse();
            assertThat(direct.get(0)).isZero();
            assertThat(direct.hasRemaining()).isFalse();

            byte[] back = new byte[4];
            fromBytes.read(0, back, 0, 4);
            assertThat(back).containsExactly(1, 2, 3, 4);
            char[] chars = new char[13];
            fromChars.read(chars);
            assertThat(new String(chars)).isEqualTo("correct horse");
            assertThat(fromChars.size()).isEqualTo(26);
            byte last = fromDirect.readOnly(view -> view.get(ValueLayout.JAVA_BYTE, 2));
            assertThat(last).isEqualTo((byte) 4);
        }
        assertThatThrownBy(() -> store.copyOf(ByteBuffer.wrap(new byte[1]).asReadOnlyBuffer()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot be wiped");
    }

    @Test
    void scopedViewsWorkOnlyDuringTheCallAndTheReadOnlyOneRefusesWrites() {
        try (Secret secret = store.copyOf(new byte[] {42})) {
            AtomicReference<MemorySegment> kept = new AtomicReference<>();
            byte read = secret.readOnly(view -> {
                kept.set(view);
                assertThat(view.isReadOnly()).isTrue();
                assertThatThrownBy(() -> view.set(ValueLayout.JAVA_BYTE, 0, (byte) 1))
                        .isInstanceOf(IllegalArgumentException.class);
                return view.get(ValueLayout.JAVA_BYTE, 0);
            });
            assertThat(read).isEqualTo((byte) 42);
            assertThatThrownBy(() -> kept.get().get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);

            secret.readWrite(view -> view.set(ValueLayout.JAVA_BYTE, 0, (byte) 43));
            byte changed = secret.readOnly(view -> view.get(ValueLayout.JAVA_BYTE, 0));
            assertThat(changed).isEqualTo((byte) 43);
        }
    }

    @Test
    void toStringNeverShowsContentsAndEqualityComparesContents() {
        try (Secret a = store.copyOf("hunter2".getBytes(StandardCharsets.US_ASCII));
             Secret b = store.copyOf("hunter2".getBytes(StandardCharsets.US_ASCII));
             Secret c = store.copyOf("hunter3".getBytes(StandardCharsets.US_ASCII));
             Secret d = store.copyOf("hunter".getBytes(StandardCharsets.US_ASCII))) {
            assertThat(a.toString()).isEqualTo("Secret[7 bytes, DIRECT_MAP_REMOVED]").doesNotContain("hunter");
            assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(c).isNotEqualTo(d).isNotEqualTo("hunter2");
        }
    }

    @Test
    void aDestroyedSecretCannotBeUsedAndDestroyingTwiceIsHarmless() {
        Secret secret = store.allocate(8);
        secret.destroy();
        secret.close();
        assertThat(secret.isDestroyed()).isTrue();
        assertThat(secret.toString()).endsWith(", destroyed]");
        assertThatThrownBy(() -> secret.read(0, new byte[8], 0, 8)).isInstanceOf(XpfoClosedException.class);
        assertThatThrownBy(() -> secret.readOnly(view -> 0)).isInstanceOf(XpfoClosedException.class);
        assertThat(store.stats().wipes()).isEqualTo(1);
        assertThat(store.stats().liveSecrets()).isZero();
    }

    @Test
    void sizesOutsideOneByteToSixteenKibibytesAreRefused() {
        assertThatThrownBy(() -> store.allocate(0)).isInstanceOf(InvalidSizeException.class);
        assertThatThrownBy(() -> store.allocate(SecretStore.MAX_SECRET_BYTES + 1)).isInstanceOf(InvalidSizeException.class)
                .hasMessageContaining("PagePool.take");
        try (Secret largest = store.allocate(SecretStore.MAX_SECRET_BYTES); Secret smallest = store.allocate(1)) {
            largest.readWrite(view -> view.fill((byte) 1));
            byte first = smallest.readOnly(view -> view.get(ValueLayout.JAVA_BYTE, 0));
            assertThat(first).isZero();
        }
    }

    @Test
    void closingTheStoreMakesLiveSecretsUnusable() {
        Secret secret = store.copyOf(new byte[] {1});
        store.close();
        assertThat(secret.isDestroyed()).isTrue();
        assertThat(store.stats().liveSecrets()).isZero();
        assertThat(store.stats().bytesInUse()).isZero();
        assertThatThrownBy(() -> secret.read(0, new byte[1], 0, 1)).isInstanceOf(XpfoClosedException.class);
        assertThatThrownBy(() -> store.allocate(1)).isInstanceOf(XpfoClosedException.class);
        secret.close();
        assertThat(pool.stats().inUseBytes()).isZero();
    }
}
