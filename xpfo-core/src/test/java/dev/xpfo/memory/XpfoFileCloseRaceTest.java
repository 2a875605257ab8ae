// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Libc;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link XpfoFile#close()} from another thread never lets a {@link XpfoFile#map()} in flight map
 * whatever file the kernel gives the closed descriptor's number next: the attack closes a secret
 * memory file while a thread maps it, opens an ordinary file at once (it gets the lowest free number,
 * the closed one) and looks for that file's contents in the mapping.
 */
class XpfoFileCloseRaceTest {
    private static final int ROUNDS = 2_000;
    private static final long MARK = 0x0DEC0DEC0DEC0DECL;

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void aMapRacingCloseNeverMapsAFileOpenedAfterTheClose(@TempDir Path dir) throws Exception {
        long page = PageSize.BYTES;
        Path decoyFile = dir.resolve("decoy");
        byte[] contents = new byte[(int) page];
        java.nio.ByteBuffer.wrap(contents).order(java.nio.ByteOrder.nativeOrder()).putLong(0, MARK);
        Files.write(decoyFile, contents);
        try (Arena arena = Arena.ofConfined()) {
            var decoyPath = arena.allocateFrom(decoyFile.toString());
            for (int round = 0; round < ROUNDS; round++) {
                XpfoFile victim = XpfoFile.create(page);
                CountDownLatch mapping = new CountDownLatch(1);
                AtomicReference<Mapping> mapped = new AtomicReference<>();
                Thread mapper = Thread.ofPlatform().start(() -> {
                    mapping.countDown();
                    try {
                        mapped.set(victim.map());
                    } catch (XpfoClosedException e) {
                        // closed first: what it should see
                    }
                });
                mapping.await();
                for (int i = ThreadLocalRandom.current().nextInt(2_000); i > 0; i--) {
                    Thread.onSpinWait();
                }
                victim.close();
                int decoy = Libc.open(decoyPath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
                assertThat(decoy).isNotNegative();
                mapper.join();
                Libc.close(decoy);
                try (Mapping mapping1 = mapped.get()) {
                    if (mapping1 != null) {
                        assertThat(mapping1.segment().get(JAVA_LONG, 0)).as("the mapping made while the file "
                                + "was closed holds the file opened after the close (descriptor %d), round %d",
                                decoy, round).isNotEqualTo(MARK);
                    }
                }
            }
        }
    }
}
