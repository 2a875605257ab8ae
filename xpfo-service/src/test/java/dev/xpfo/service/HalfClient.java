// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A client that stops in the middle, to be killed there: {@code grant SOCKET BYTES} shakes hands,
 * sends a GRANT and waits without reading; {@code header SOCKET} sends half a frame header and waits.
 * Prints "sent" when it is at that point. {@code pass SOCKET BYTES OTHER} takes a grant, passes its
 * descriptors to the socket {@code OTHER}, closes its own, sends RELEASE and prints the reply's type.
 */
public final class HalfClient {
    public static void main(String[] args) throws Exception {
        UnixSocket socket = UnixSocket.connect(Path.of(args[1]));
        if (args[0].equals("pass")) {
            FrameReader reader = new FrameReader(socket, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            socket.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(0).encode());
            Messages.Welcome.decode(reader.next());
            socket.send(new Messages.Grant(Long.parseLong(args[2]), 0).frame(1).encode());
            Frame chunks = reader.next();
            try (UnixSocket other = UnixSocket.connect(Path.of(args[3]))) {
                other.send(new byte[]{1}, chunks.fds());
            }
            chunks.closeFds();
            socket.send(new Messages.Release(Messages.Chunks.decode(chunks).grantId()).frame(2).encode());
            System.out.println(reader.next().kind().orElseThrow());
            System.out.flush();
            Thread.sleep(60_000);
            return;
        }
        if (args[0].equals("grant")) {
            socket.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(0).encode());
            Frame welcome = new FrameReader(socket, Protocol.MAX_REPLY_PAYLOAD, 0).next();
            Messages.Welcome.decode(welcome);
            socket.send(new Messages.Grant(Long.parseLong(args[2]), 0).frame(1).encode());
        } else {
            socket.send(Arrays.copyOf(new Messages.Hello(1, 1).frame(0).encode(), 5));
        }
        System.out.println("sent");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
