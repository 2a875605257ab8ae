// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.XpfoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Descriptors travel with data over a Unix socket, and a peer cannot push more than asked for. */
class UnixSocketTest {

    @Test
    void descriptorsArriveWithTheDataAsNewDescriptorsOfTheSameFiles(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path); Arena arena = Arena.ofConfined()) {
            MemorySegment pipe = arena.allocate(JAVA_INT, 2);
            assertThat(Libc.pipe2(pipe, Libc.O_CLOEXEC)).isZero();
            int readEnd = pipe.get(JAVA_INT, 0);
            int writeEnd = pipe.get(JAVA_INT, 4);
            CompletableFuture<UnixSocket.Received> received = CompletableFuture.supplyAsync(() -> {
                try (UnixSocket client = UnixSocket.connect(path)) {
                    return client.receive(64, 2);
                }
            });
            try (UnixSocket server = listener.accept()) {
                server.send("hello".getBytes(StandardCharsets.US_ASCII), writeEnd);
            }
            UnixSocket.Received message = received.get();
            assertThat(new String(message.data(), StandardCharsets.US_ASCII)).isEqualTo("hello");
            assertThat(message.fds()).hasSize(1).doesNotContain(writeEnd);
            // Writing through the received descriptor reaches the original pipe.
            MemorySegment byteOut = arena.allocateFrom("!");
            assertThat(Libc.write(message.fds()[0], byteOut, 1)).isEqualTo(1);
            MemorySegment byteIn = arena.allocate(1);
            assertThat(Libc.read(readEnd, byteIn, 1)).isEqualTo(1);
            assertThat(byteIn.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) '!');
            Libc.close(message.fds()[0]);
            Libc.close(readEnd);
            Libc.close(writeEnd);
        }
    }

    @Test
    void morePeerDescriptorsThanExpectedAreClosedAndReported(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path); Arena arena = Arena.ofConfined()) {
            MemorySegment pipe = arena.allocate(JAVA_INT, 2);
            assertThat(Libc.pipe2(pipe, Libc.O_CLOEXEC)).isZero();
            int readEnd = pipe.get(JAVA_INT, 0);
            int writeEnd = pipe.get(JAVA_INT, 4);
            String pipeFile = dev.xpfo.testing.OpenDescriptors.target(readEnd);
            CompletableFuture<Throwable> outcome = CompletableFuture.supplyAsync(() -> {
                try (UnixSocket client = UnixSocket.connect(path)) {
                    client.receive(8, 1);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            try (UnixSocket server = listener.accept()) {
                // Three descriptors of the pipe where one is expected: the kernel delivers one and drops two.
                server.send(new byte[] {1}, readEnd, writeEnd, readEnd);
            }
            assertThat(outcome.get()).isInstanceOf(XpfoException.class).hasMessageContaining("descriptors truncated");
            // The one that did arrive is closed: only the sender's own two still refer to the pipe.
            assertThat(dev.xpfo.testing.OpenDescriptors.on(pipeFile)).containsExactly(Math.min(readEnd, writeEnd),
                    Math.max(readEnd, writeEnd));
            Libc.close(readEnd);
            Libc.close(writeEnd);
        }
    }

    @Test
    void endOfStreamIsReportedWhenThePeerCloses(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path)) {
            CompletableFuture<UnixSocket.Received> received = CompletableFuture.supplyAsync(() -> {
                try (UnixSocket client = UnixSocket.connect(path)) {
                    return client.receive(8, 1);
                }
            });
            listener.accept().close();
            assertThat(received.get().endOfStream()).isTrue();
        }
    }

    @Test
    void connectingToNothingNamesTheCallAndErrno(@TempDir Path dir) {
        assertThatThrownBy(() -> UnixSocket.connect(dir.resolve("absent")))
                .hasMessageContaining("connect failed with ENOENT");
        assertThatThrownBy(() -> UnixSocket.listen(dir.resolve("x".repeat(120))))
                .hasMessageContaining("too long");
    }
}
