// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Whole frames out of a stream, however the peer cuts it, and refusals of what breaks the protocol. */
class FrameReaderTest {
    @TempDir
    Path dir;
    private UnixSocket listener;
    private UnixSocket peer;
    private UnixSocket mine;

    @BeforeEach
    void connect() throws Exception {
        listener = UnixSocket.listen(dir.resolve("s"));
        CompletableFuture<UnixSocket> accepted = CompletableFuture.supplyAsync(listener::accept);
        peer = UnixSocket.connect(dir.resolve("s"));
        mine = accepted.get();
    }

    @AfterEach
    void close() {
        peer.close();
        mine.close();
        listener.close();
    }

    @Test
    void aFrameSentOneByteAtATimeArrivesWhole() {
        byte[] grant = new Messages.Grant(12345, 0).frame(7).encode();
        for (byte b : grant) {
            peer.send(new byte[]{b});
        }
        Frame frame = new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).next();
        assertThat(frame.requestId()).isEqualTo(7);
        assertThat(Messages.Grant.decode(frame)).isEqualTo(new Messages.Grant(12345, 0));
    }

    @Test
    void framesSentTogetherAreReadOneByOneAndEndOfStreamBetweenFramesIsNull() {
        byte[] two = new byte[0];
        for (int id = 1; id <= 2; id++) {
            byte[] status = Messages.status(id).encode();
            two = Arrays.copyOf(two, two.length + status.length);
            System.arraycopy(status, 0, two, two.length - status.length, status.length);
        }
        peer.send(two);
        peer.shutdown();
        FrameReader reader = new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0);
        assertThat(reader.next().requestId()).isEqualTo(1);
        assertThat(reader.next().requestId()).isEqualTo(2);
        assertThat(reader.next()).isNull();
    }

    @Test
    void anOversizeLengthIsRefusedWithoutReadingIt() {
        peer.send(new Frame(FrameType.STATUS.code(), 1, new byte[Protocol.MAX_REQUEST_PAYLOAD + 1], new int[0]).encode());
        assertThatThrownBy(() -> new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).next())
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
                .hasMessageContaining("257 bytes announced");
    }

    @Test
    void aConnectionClosedInsideAFrameIsABadRequest() {
        peer.send(Arrays.copyOf(Messages.status(1).encode(), 5));
        peer.shutdown();
        assertThatThrownBy(() -> new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).next())
                .isInstanceOf(ProtocolException.class).hasMessageContaining("inside a frame header");
    }

    /** The reader's clock: each reading moves it on by {@code step}, and is counted. */
    private static final class SteppingClock implements LongSupplier {
        private final long step;
        private final Semaphore readings = new Semaphore(0);
        private final AtomicLong now = new AtomicLong();

        SteppingClock(Duration step) {
            this.step = step.toNanos();
        }

        @Override
        public long getAsLong() {
            readings.release();
            return now.getAndAdd(step);
        }

        /** Waits until the clock has been read {@code count} more times (a bound against a hung build). */
        void awaitReadings(int count) throws InterruptedException {
            assertThat(readings.tryAcquire(count, 30, TimeUnit.SECONDS)).as("%d readings of the clock", count).isTrue();
        }
    }

    @Test
    void aPeerSilentBetweenFramesIsWaitedForButNotOneSilentInsideAFrame() throws Exception {
        mine.timeouts(Duration.ofMillis(5), Duration.ofMillis(5));
        // 50 ms of the reader's time pass at every receive timeout.
        SteppingClock clock = new SteppingClock(Duration.ofMillis(50));
        FrameReader reader = new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).frameDeadline(Duration.ofMillis(150))
                .clock(clock);
        CompletableFuture<Frame> next = CompletableFuture.supplyAsync(reader::next);
        next.whenComplete((read, failure) -> clock.readings.release(100)); // given up: no more readings to wait for
        clock.awaitReadings(20);
        assertThat(next).as("a second of silence between frames, past the frame deadline").isNotDone();
        peer.send(Messages.status(3).encode());
        assertThat(next.get().requestId()).isEqualTo(3);

        peer.send(new byte[]{0, 0});
        assertThatThrownBy(reader::next).isInstanceOf(ProtocolException.class).hasMessageContaining("not finished within 150 ms");
    }

    @Test
    void aFrameTricklingInByteByByteIsCutOffAtItsDeadline() throws Exception {
        // No receive timeout passes (each byte comes well within its reach): the frame deadline cuts it off alone.
        mine.timeouts(Duration.ofSeconds(30), Duration.ofSeconds(30));
        SteppingClock clock = new SteppingClock(Duration.ofMillis(50));
        FrameReader reader = new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).frameDeadline(Duration.ofMillis(200))
                .clock(clock);
        CompletableFuture<Frame> next = CompletableFuture.supplyAsync(reader::next);
        // Once it gives up, the reader reads the clock no more: let the last wait below end.
        next.whenComplete((read, failure) -> clock.readings.release(100));
        // In step with the reader: it reads the clock once before the first byte, twice on receiving it
        // (the frame's start and its deadline), then once per byte.
        clock.awaitReadings(1);
        byte[] frame = Messages.status(1).encode();
        for (int i = 0; i < frame.length && !next.isDone(); i++) {
            peer.send(new byte[]{frame[i]});
            clock.awaitReadings(i == 0 ? 2 : 1);
        }
        assertThatThrownBy(next::join).hasCauseInstanceOf(ProtocolException.class)
                .hasMessageContaining("not finished within 200 ms");
    }

    @Test
    void aPeerThatNeverStartsAFrameIsDroppedAtTheIdleDeadline() {
        mine.timeouts(Duration.ofMillis(20), Duration.ofMillis(20));
        FrameReader reader = new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).idleDeadline(Duration.ofMillis(100));
        assertThatThrownBy(reader::next).isInstanceOf(ProtocolException.class).hasMessageContaining("no frame within 100 ms");
    }

    @Test
    void descriptorsWhereNoneAreAllowedAreClosedAndRefused() throws Exception {
        SecretMemory.assumeAvailable();
        long inode;
        try (XpfoFile file = XpfoFile.open()) {
            inode = inode(file.fd());
            peer.send(Messages.status(1).encode(), file.fd());
        }
        assertThat(descriptorsOnInode(inode)).as("the sender closed its own; the file is in flight").isEmpty();
        assertThatThrownBy(() -> new FrameReader(mine, Protocol.MAX_REQUEST_PAYLOAD, 0).next())
                .isInstanceOf(ProtocolException.class).hasMessageContaining("descriptors");
        // The received one too: no descriptor of this process refers to that secret memory file any more.
        assertThat(descriptorsOnInode(inode)).isEmpty();
    }

    /** Descriptors of this process on secret memory whose inode is {@code inode}, read from /proc/self/fd. */
    private static java.util.List<Integer> descriptorsOnInode(long inode) throws Exception {
        java.util.List<Integer> found = new java.util.ArrayList<>();
        for (int fd : dev.xpfo.testing.OpenDescriptors.on("/secretmem (deleted)")) {
            if (inode(fd) == inode) {
                found.add(fd);
            }
        }
        return found;
    }

    /** The inode of the file descriptor {@code fd} refers to (stat through /proc follows it to the file). */
    private static long inode(int fd) throws java.io.IOException {
        return ((Number) java.nio.file.Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:ino")).longValue();
    }
}
