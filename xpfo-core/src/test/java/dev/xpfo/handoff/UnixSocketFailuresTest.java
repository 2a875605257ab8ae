// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import dev.xpfo.linux.Errno;
import dev.xpfo.memory.CallTimedOutException;
import dev.xpfo.memory.NotListeningException;
import dev.xpfo.memory.PeerGoneException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** What a socket's failures surface as, from the kernel's own answers: the types callers branch on. */
class UnixSocketFailuresTest {
    private static final byte[] REQUEST = "request".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void sendingToAPeerThatClosedItsEndIsPeerGone() {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path); UnixSocket client = UnixSocket.connect(path)) {
            listener.accept().close();
            PeerGoneException e = catchThrowableOfType(PeerGoneException.class, () -> client.send(REQUEST));
            assertThat(e).as("sendmsg after the peer closed").isNotNull();
            assertThat(e.call()).isEqualTo("sendmsg");
            assertThat(e.errno()).isEqualTo(Errno.EPIPE);
            assertThat(e.getMessage()).contains("sendmsg failed with EPIPE").contains("Remedy: ");
        }
    }

    @Test
    void aPeerClosingWithARequestUnreadIsPeerGoneForTheReceiverWaitingForItsAnswer() {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path); UnixSocket client = UnixSocket.connect(path)) {
            try (UnixSocket server = listener.accept()) {
                client.send(REQUEST);
                // The request has arrived (one byte of it is read); the rest is left unread as the peer hangs up.
                assertThat(server.receive(1, 0).data()).hasSize(1);
            }
            PeerGoneException e = catchThrowableOfType(PeerGoneException.class, () -> client.receive(64, 0));
            assertThat(e).as("recvmsg after the peer closed with data unread").isNotNull();
            assertThat(e.call()).isEqualTo("recvmsg");
            assertThat(e.errno()).isEqualTo(Errno.ECONNRESET);
        }
    }

    @Test
    void connectingWhereNothingListensIsNotListening() {
        Path path = dir.resolve("s");
        assertThat(catchThrowableOfType(NotListeningException.class, () -> UnixSocket.connect(path)).errno())
                .as("no socket file").isEqualTo(Errno.ENOENT);
        UnixSocket.listen(path).close(); // the file of a listener that is gone
        assertThat(catchThrowableOfType(NotListeningException.class, () -> UnixSocket.connect(path)).errno())
                .as("a socket file nobody listens on").isEqualTo(Errno.ECONNREFUSED);
        assertThat(UnixSocket.answers(path)).isFalse();
    }

    @Test
    void aReceiveTimeoutIsCallTimedOutAndAnAcceptTimeoutIsNoConnection() {
        Path path = dir.resolve("s");
        try (UnixSocket listener = UnixSocket.listen(path); UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept()) {
            client.timeouts(Duration.ofMillis(1), Duration.ofSeconds(1));
            CallTimedOutException e = catchThrowableOfType(CallTimedOutException.class, () -> client.receive(64, 0));
            assertThat(e).isNotNull();
            assertThat(e.errno()).isEqualTo(Errno.EAGAIN);
            listener.timeouts(Duration.ofMillis(1), Duration.ofSeconds(1));
            assertThat(listener.accept()).isNull();
        }
    }
}
