// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameType;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Whatever peers send or do, the service keeps serving everyone else and leaks nothing. */
class ServiceRobustnessTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @AfterEach
    void loud() {
        Services.quiet(false);
    }

    /**
     * No client, every release verified by a scan, the stock back at its target and nothing being
     * populated: the descriptor count and the accounting are comparable.
     */
    private static void settled(Service service) throws InterruptedException {
        service.pool().warm((done, total) -> { });
        assertThat(Services.eventually(Duration.ofSeconds(20), () -> service.clients() == 0 && service.sweeperIdle()
                && service.pool().stats().populatingBytes() == 0
                && service.pool().stats().readyBytes() == service.pool().stats().targetBytes())).as("service settled").isTrue();
    }

    @Test
    void tenThousandRandomAndMutatedFramesLeaveTheServiceAnsweringAndLeakNothing() throws Exception {
        Services.quiet(true);
        ServiceSettings settings = Services.small(dir).withLimits(64L << 20, Duration.ofSeconds(10), Duration.ofMillis(300), 256);
        try (Service service = Services.started(settings)) {
            settled(service);
            long descriptorsBefore = Services.openDescriptors();
            SplittableRandom random = new SplittableRandom(20261125);
            int frames = 0;
            int connections = 0;
            List<UnixSocket> silent = new ArrayList<>();
            while (frames < 10_000) {
                connections++;
                UnixSocket socket = UnixSocket.connect(settings.socket());
                try {
                    if (random.nextInt(10) > 0) {
                        socket.send(new Messages.Hello(1, 1).frame(0).encode());
                        frames++;
                    }
                    int burst = 1 + random.nextInt(8);
                    for (int i = 0; i < burst; i++, frames++) {
                        byte[] bytes = fuzzFrame(random);
                        if (random.nextInt(50) == 0) {
                            sendWithDescriptor(socket, bytes);
                        } else {
                            socket.send(bytes);
                        }
                    }
                    if (random.nextInt(20) == 0) {
                        // Half a frame, then silence: dropped after the frame timeout.
                        socket.send(new byte[]{12, 0, 0});
                        silent.add(socket);
                        continue;
                    }
                    // A frame no version has ends every burst, so the service answers and hangs up.
                    socket.send(new Frame(99, 0, new byte[0], new int[0]).encode());
                    drain(socket);
                } catch (XpfoException e) {
                    // the service hung up on us mid-burst: expected for bad frames
                }
                socket.close();
            }
            // Each connection left silent inside a frame is hung up on at the frame timeout, if not before.
            silent.forEach(ServiceRobustnessTest::awaitHangUp);
            silent.forEach(UnixSocket::close);
            settled(service);
            try (XpfoClient client = XpfoClient.connect(settings.socket())) {
                assertThat(client.status()).contains("\"protocol\":1");
                try (GrantedMemory memory = client.grant(2L << 20)) {
                    memory.segment().fill((byte) 1);
                }
            }
            settled(service);
            assertThat(frames).isGreaterThanOrEqualTo(10_000);
            assertThat(Services.openDescriptors()).as("descriptors after %d frames on %d connections", frames, connections)
                    .isLessThanOrEqualTo(descriptorsBefore);
            assertThat(service.quotas().outstandingByUid()).isEmpty();
            assertThat(service.pool().stats().handedOutBytes()).isZero();
            assertThat(service.refusalsTotal(ErrorCode.BAD_REQUEST)).as("connections ended by BAD_REQUEST of %d", connections)
                    .isGreaterThan(connections * 9L / 10);
            assertThat(service.grantsTotal()).as("valid grants among the frames").isGreaterThan(100);
        }
    }

    /** A frame: valid requests, the same with one byte flipped, random headers, garbage, oversize lengths. */
    private static byte[] fuzzFrame(SplittableRandom random) {
        byte[] frame = switch (random.nextInt(6)) {
            case 0 -> new Messages.Grant(1 + random.nextLong(8L << 20), random.nextInt(3) == 0 ? 1 : 0)
                    .frame(random.nextInt()).encode();
            case 1 -> new Messages.Release(random.nextLong(5)).frame(random.nextInt()).encode();
            case 2 -> Messages.status(random.nextInt()).encode();
            case 3 -> {
                byte[] payload = new byte[random.nextInt(300)];
                random.nextBytes(payload);
                yield new Frame(random.nextInt(12), random.nextInt(), payload, new int[0]).encode();
            }
            case 4 -> {
                byte[] garbage = new byte[1 + random.nextInt(64)];
                random.nextBytes(garbage);
                yield garbage;
            }
            default -> ByteBuffer.allocate(Frame.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(random.nextInt(3) == 0 ? -1 : Protocol.MAX_REQUEST_PAYLOAD + 1 + random.nextInt(1 << 20))
                    .putShort((short) FrameType.GRANT.code()).putShort((short) 0).putInt(0).array();
        };
        if (random.nextInt(3) == 0) {
            frame[random.nextInt(frame.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return frame;
    }

    /** Reads replies until the service hangs up, closing any descriptors that came with grants. */
    private static void drain(UnixSocket socket) {
        while (true) {
            UnixSocket.Received received = socket.receive(4096, Protocol.MAX_FDS_PER_FRAME);
            for (int fd : received.fds()) {
                XpfoFile.adopt(fd).close();
            }
            if (received.endOfStream()) {
                return;
            }
        }
    }

    /**
     * Waits until the service has hung up on {@code socket}: the end of the stream, or a reset if it
     * hung up leaving bytes of ours unread. A receive timeout bounds the wait against a hung build
     * (then {@link #settled} finds the connection still open).
     */
    private static void awaitHangUp(UnixSocket socket) {
        socket.timeouts(Services.SWEEP, Services.SWEEP);
        try {
            drain(socket);
        } catch (XpfoException e) {
            // reset: the service hung up on bytes it had not read
        }
    }

    private static void sendWithDescriptor(UnixSocket socket, byte[] bytes) {
        try (XpfoFile file = XpfoFile.open()) {
            socket.send(bytes, file.fd());
        }
    }

    @Test
    void sixtyFourClientsTakeAndReleaseConcurrentlyWithoutSeeingEachOther() throws Exception {
        ServiceSettings settings = Services.small(dir)
                .withPool(StockSettings.of(Services.CHUNK, 128L << 20, 1L << 30, 2))
                .withQuota(new ServiceSettings.Quota(1L << 30, 0))
                .withLimits(64L << 20, Duration.ofSeconds(60), Duration.ofSeconds(5), 256);
        try (Service service = Services.started(settings)) {
            settled(service);
            long descriptorsBefore = Services.openDescriptors();
            AtomicInteger grants = new AtomicInteger();
            ExecutorService threads = Executors.newFixedThreadPool(64);
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < 64; c++) {
                byte pattern = (byte) (c + 1);
                clients.add(threads.submit(() -> {
                    try (XpfoClient client = XpfoClient.connect(settings.socket())) {
                        for (int round = 0; round < 6; round++) {
                            try (GrantedMemory memory = client.grant((1 + round % 2) * Services.CHUNK)) {
                                MemorySegment segment = memory.segment();
                                assertThat(segment.get(ValueLayout.JAVA_BYTE, 0)).as("fresh memory is zero").isZero();
                                segment.fill(pattern);
                                Thread.yield();
                                for (long offset = 0; offset < segment.byteSize(); offset += 512) {
                                    assertThat(segment.get(ValueLayout.JAVA_BYTE, offset)).isEqualTo(pattern);
                                }
                                grants.incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> client : clients) {
                client.get();
            }
            threads.shutdown();
            assertThat(grants).hasValue(64 * 6);
            settled(service);
            assertThat(service.grantsTotal()).isEqualTo(64 * 6);
            assertThat(service.quotas().outstandingByUid()).isEmpty();
            assertThat(service.pool().stats().handedOutBytes()).isZero();
            assertThat(Services.openDescriptors()).isLessThanOrEqualTo(descriptorsBefore);
        }
    }

    @Test
    void aClientKilledMidRequestCostsNothingAndOthersAreServed() throws Exception {
        ServiceSettings settings = Services.small(dir).withPool(StockSettings.of(Services.CHUNK, 0, 256L << 20, 2));
        try (Service service = Services.started(settings)) {
            settled(service);
            long descriptorsBefore = Services.openDescriptors();
            for (String mode : List.of("grant", "header")) {
                Process child = TestJvm.start(HalfClient.class, mode, settings.socket().toString(), Long.toString(64L << 20));
                assertThat(Child.watch(child).nextLine(Duration.ofSeconds(60))).as(mode).isEqualTo("sent");
                child.destroyForcibly().waitFor();
            }
            settled(service);
            assertThat(service.quotas().outstandingByUid()).isEmpty();
            assertThat(service.pool().stats().handedOutBytes()).isZero();
            assertThat(Services.openDescriptors()).isLessThanOrEqualTo(descriptorsBefore);
            try (XpfoClient client = XpfoClient.connect(settings.socket()); GrantedMemory memory = client.grant(2L << 20)) {
                assertThat(memory.bytes()).isEqualTo(2L << 20);
            }
        }
    }
}
