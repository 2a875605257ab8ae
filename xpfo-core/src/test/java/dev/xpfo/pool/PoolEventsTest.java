// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.testing.SecretMemory;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Operators see refills and cold takes in JDK Flight Recorder, where they already look for time spent. */
class PoolEventsTest {
    private static final long CHUNK = 256 * Bytes.KIB;

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void warmingAndColdTakesAreRecordedAsFlightRecorderEvents(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("pool.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("dev.xpfo.PoolRefill");
            recording.enable("dev.xpfo.ColdTake");
            recording.start();
            try (PagePool pool = PagePool.open(PoolSettings.defaults().withChunkBytes(CHUNK))) {
                pool.warm(2 * CHUNK, PopulateProgress.NONE);
                pool.take(2 * CHUNK).close();
                pool.take(3 * CHUNK).close();
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("dev.xpfo.PoolRefill"))
                .singleElement().satisfies(e -> {
                    assertThat(e.getString("trigger")).isEqualTo("warm");
                    assertThat(e.getInt("chunks")).isEqualTo(2);
                    assertThat(e.getLong("bytes")).isEqualTo(2 * CHUNK);
                });
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("dev.xpfo.ColdTake"))
                .singleElement().satisfies(e -> {
                    assertThat(e.getLong("requestedBytes")).isEqualTo(3 * CHUNK);
                    assertThat(e.getLong("populatedBytes")).isEqualTo(CHUNK);
                    assertThat(e.getDuration()).isPositive();
                });
    }
}
