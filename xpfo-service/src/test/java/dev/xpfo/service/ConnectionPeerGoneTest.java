// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.Services;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client that hangs up while the service is still answering it is gone, not a failure inside the
 * service: its connection ends quietly, with no INTERNAL refusal counted or logged, however the kernel
 * words it ({@code EPIPE}, {@code ECONNRESET}).
 */
class ConnectionPeerGoneTest {
    /** Replies that cannot all fit in a socket's buffer (some 200 KiB by default) before the client hangs up. */
    private static final long REPLY_BYTES = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void aClientHangingUpWithRepliesOutstandingEndsItsConnectionWithoutAnInternalError() throws Exception {
        try (Service service = Services.started(Services.small(dir))) {
            int replyBytes = service.statusJson().getBytes(StandardCharsets.UTF_8).length;
            int requests = (int) (REPLY_BYTES / replyBytes) + 1;
            ByteArrayOutputStream batch = new ByteArrayOutputStream();
            for (int request = 1; request <= requests; request++) {
                batch.writeBytes(Messages.status(request).encode());
            }
            try (UnixSocket client = UnixSocket.connect(service.settings().socket())) {
                client.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(0).encode());
                Messages.Welcome.decode(new FrameReader(client, Protocol.MAX_REPLY_PAYLOAD, 0).next());
                client.send(batch.toByteArray());
            } // hung up with most replies not yet sent: the service's sends meet a closed peer
            assertThat(Services.eventually(Duration.ofSeconds(20),
                    () -> service.clients() == 0 || service.refusalsTotal(ErrorCode.INTERNAL) > 0)).isTrue();
            assertThat(service.refusalsTotal(ErrorCode.INTERNAL)).as("requests counted as failed inside the service")
                    .isZero();
            assertThat(service.clients()).as("the connection ended").isZero();
        }
    }
}
