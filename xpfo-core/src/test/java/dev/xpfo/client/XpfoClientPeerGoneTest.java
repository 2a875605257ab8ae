// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.client;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.linux.Errno;
import dev.xpfo.memory.PeerGoneException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.FrameType;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A service that hangs up in the middle of an exchange, with the client's request unread (the kernel
 * then answers the client's receive with {@code ECONNRESET}), reaches the client as
 * {@link PeerGoneException}: the client reconnects when it holds nothing on the connection, and says so
 * when it holds a grant there. A fake service on a real socket plays the part.
 */
@Timeout(30)
class XpfoClientPeerGoneTest {
    private static final long CHUNK = 2L << 20;

    @TempDir
    Path dir;

    @Test
    void aServiceHangingUpOnARequestOfAClientHoldingNothingIsReconnectedToAndAsked() throws Exception {
        Path path = dir.resolve("xpfo.sock");
        try (UnixSocket listener = UnixSocket.listen(path)) {
            CompletableFuture<Void> service = CompletableFuture.runAsync(() -> {
                try (UnixSocket first = listener.accept()) {
                    welcome(first, new FrameReader(first, 1024, 0));
                    hangUpWithTheNextRequestUnread(first);
                }
                try (UnixSocket second = listener.accept()) {
                    FrameReader reader = new FrameReader(second, 1024, 0);
                    welcome(second, reader);
                    Frame status = reader.next();
                    assertThat(status.type()).isEqualTo(FrameType.STATUS.code());
                    second.send(Messages.statusReply(status.requestId(), "{\"fake\":true}").encode());
                    assertThat(reader.next()).as("the client hangs up").isNull();
                }
            });
            try (XpfoClient client = XpfoClient.connect(path)) {
                assertThat(client.status()).isEqualTo("{\"fake\":true}");
            }
            service.get(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void aServiceHangingUpOnARequestOfAClientHoldingAGrantIsPeerGone() throws Exception {
        SecretMemory.assumeAvailable();
        Path path = dir.resolve("xpfo.sock");
        try (UnixSocket listener = UnixSocket.listen(path)) {
            CompletableFuture<Void> service = CompletableFuture.runAsync(() -> {
                try (UnixSocket socket = listener.accept(); XpfoFile chunk = XpfoFile.create(CHUNK)) {
                    FrameReader reader = new FrameReader(socket, 1024, 0);
                    welcome(socket, reader);
                    Frame grant = reader.next();
                    assertThat(grant.type()).isEqualTo(FrameType.GRANT.code());
                    socket.send(new Messages.Chunks(7, CHUNK, 1, 0, 1).frame(grant.requestId()).encode(), chunk.fd());
                    hangUpWithTheNextRequestUnread(socket);
                }
            });
            try (XpfoClient client = XpfoClient.connect(path); GrantedMemory memory = client.grant(CHUNK)) {
                assertThat(memory.segment().byteSize()).isEqualTo(CHUNK);
                PeerGoneException e = catchThrowableOfType(PeerGoneException.class, client::status);
                assertThat(e).as("the client holds a grant on the connection, so it must not reconnect").isNotNull();
                assertThat(e.call()).isEqualTo("recvmsg");
                assertThat(e.errno()).isEqualTo(Errno.ECONNRESET);
            }
            service.get(20, TimeUnit.SECONDS);
        }
    }

    private static void welcome(UnixSocket socket, FrameReader reader) {
        Frame hello = reader.next();
        assertThat(hello.type()).isEqualTo(FrameType.HELLO.code());
        socket.send(new Messages.Welcome(Protocol.VERSION, Protocol.MAX_FDS_PER_FRAME, CHUNK, 64 * CHUNK)
                .frame(hello.requestId()).encode());
    }

    /** Waits for the next request to arrive, reads one byte of it and closes with the rest unread. */
    private static void hangUpWithTheNextRequestUnread(UnixSocket socket) {
        assertThat(socket.receive(1, 0).data()).hasSize(1);
        socket.close();
    }
}
