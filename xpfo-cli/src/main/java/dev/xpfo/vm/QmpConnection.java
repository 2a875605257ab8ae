package dev.xpfo.vm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The QEMU Machine Protocol on a private Unix socket: just enough to let a guest QEMU holds at its
 * start ({@code -S}) run, once its RAM has been checked.
 */
final class QmpConnection implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;

    private QmpConnection(SocketChannel channel) throws IOException {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        String greeting = in.readLine();
        if (greeting == null || !greeting.contains("\"QMP\"")) {
            throw new IOException("no QMP greeting from QEMU: " + greeting);
        }
        execute("qmp_capabilities");
    }

    static QmpConnection open(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        try {
            return new QmpConnection(channel);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    /** Runs a command without arguments; events that arrive meanwhile are skipped. */
    void execute(String command) throws IOException {
        channel.write(ByteBuffer.wrap(("{\"execute\":\"" + command + "\"}\n").getBytes(StandardCharsets.UTF_8)));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.contains("\"return\"")) {
                return;
            }
            if (line.contains("\"error\"")) {
                throw new IOException("QEMU refused " + command + ": " + line);
            }
        }
        throw new IOException("QEMU closed its QMP socket during " + command);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
