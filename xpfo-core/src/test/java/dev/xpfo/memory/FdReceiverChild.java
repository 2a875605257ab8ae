// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.handoff.UnixSocket;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Another process for {@link SecretMemoryConformanceTest}: connects to a socket, receives a secret
 * memory file, maps it, prints the word at offset 0 and writes a reply word at offset 8.
 */
public final class FdReceiverChild {
    public static void main(String[] args) {
        try (UnixSocket socket = UnixSocket.connect(Path.of(args[0]))) {
            UnixSocket.Received received = socket.receive(16, 4);
            System.out.println("received " + received.fds().length + " fd(s) with '"
                    + new String(received.data(), StandardCharsets.US_ASCII) + "'");
            try (XpfoFile file = XpfoFile.adopt(received.fds()[0]); Mapping mapping = file.map()) {
                System.out.println("size " + file.size() + " resident " + mapping.residentPages());
                System.out.println("word " + Long.toHexString(mapping.segment().get(JAVA_LONG, 0)));
                mapping.segment().set(JAVA_LONG, 8, Long.parseUnsignedLong(args[1], 16));
            }
            socket.send(new byte[] {'k'});
        }
    }
}
