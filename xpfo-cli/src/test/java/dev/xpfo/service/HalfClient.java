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
 * Prints "sent" when it is at that point.
 */
public final class HalfClient {
    public static void main(String[] args) throws Exception {
        UnixSocket socket = UnixSocket.connect(Path.of(args[1]));
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
