// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * The QEMU Machine Protocol on a private Unix socket: enough to ask QEMU, held at its start
 * ({@code -S}), where it put guest RAM, and then to let the guest run.
 */
final class QmpConnection implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

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

    /**
     * Takes QEMU's connection to {@code listener} ({@code -qmp unix:PATH}, QEMU the client) and
     * negotiates. QEMU greets only from its main loop, that is once the machine (and its guest RAM) is
     * created; a waiting caller is released by closing {@code listener} or by QEMU's exit.
     */
    static QmpConnection accept(ServerSocketChannel listener) throws IOException {
        SocketChannel channel = listener.accept();
        try {
            return new QmpConnection(channel);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    /** Runs a command without arguments; events that arrive meanwhile are skipped. */
    void execute(String command) throws IOException {
        call(command, null);
    }

    /**
     * Runs {@code command} with {@code arguments} (null: none) and returns its {@code "return"} value.
     *
     * @throws IOException if QEMU answers with an error or closes the socket
     */
    JsonNode call(String command, ObjectNode arguments) throws IOException {
        ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            request.set("arguments", arguments);
        }
        channel.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
        for (String line; (line = in.readLine()) != null; ) {
            JsonNode answer = JSON.readTree(line);
            if (answer.has("return")) {
                return answer.get("return");
            }
            if (answer.has("error")) {
                throw new IOException("QEMU refused " + command + ": " + answer.get("error"));
            }
        }
        throw new IOException("QEMU closed its QMP socket during " + command);
    }

    /** A human monitor command ({@code info ramblock}), through QMP; its text output. */
    String human(String commandLine) throws IOException {
        return call("human-monitor-command", JSON.createObjectNode().put("command-line", commandLine)).asText();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
