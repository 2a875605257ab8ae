// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.ServiceException;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.service.testing.Services;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a process gets from the service, and what it is refused, over the real socket. */
class ServiceTest {
    private static final Path SELF = Path.of("/proc/self/smaps");
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void aGrantIsOneContiguousSecretMappingBetweenGuards() {
        try (Service service = Services.started(Services.small(dir));
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"));
             GrantedMemory memory = client.grant(5L << 20)) {
            assertThat(memory.bytes()).isEqualTo(6L << 20);
            assertThat(memory.chunks()).isEqualTo(3);
            MemorySegment segment = memory.segment();
            for (long offset = 0; offset < segment.byteSize(); offset += PageSize.BYTES) {
                segment.set(ValueLayout.JAVA_LONG, offset, offset);
            }
            for (long offset = 0; offset < segment.byteSize(); offset += PageSize.BYTES) {
                assertThat(segment.get(ValueLayout.JAVA_LONG, offset)).isEqualTo(offset);
            }
            long start = segment.address();
            long end = start + segment.byteSize();
            for (long at = start; at < end; at += Services.CHUNK) {
                MapsEntry chunk = Smaps.find(SELF, at).orElseThrow();
                assertThat(chunk.isSecretMemory()).as("chunk at %x", at).isTrue();
                assertThat(chunk.flags()).contains("dd");
            }
            assertThat(Smaps.find(SELF, start - PageSize.BYTES).orElseThrow().permissions()).startsWith("---p");
            assertThat(Smaps.find(SELF, end).orElseThrow().permissions()).startsWith("---p");
        }
    }

    @Test
    void warmGrantsPopulateNothingAndRefillReplacesThemBelowTheLowWatermark() throws Exception {
        try (Service service = Services.started(Services.small(dir));
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            long populated = service.pool().stats().chunksPopulated();
            try (GrantedMemory small = client.grant(4L << 20)) {
                assertThat(service.pool().stats().coldChunks()).isZero();
                assertThat(service.pool().stats().handedOutBytes()).isEqualTo(4L << 20);
            }
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.pool().stats().handedOutBytes() == 0))
                    .as("given back to the stock's maximum once a scan confirms").isTrue();
            assertThat(service.pool().stats().chunksPopulated()).as("12 MiB ready: above the low watermark, no refill")
                    .isEqualTo(populated);
            try (GrantedMemory large = client.grant(6L << 20)) {
                assertThat(service.pool().stats().coldChunks()).isZero();
            }
            assertThat(Services.eventually(Duration.ofSeconds(10),
                    () -> service.pool().stats().readyBytes() == 16L << 20)).as("below 8 MiB: refilled to 16").isTrue();
            assertThat(service.pool().stats().chunksPopulated()).isEqualTo(populated + 5);
        }
    }

    @Test
    void anEmptyStockPopulatesOnDemandUnlessTheClientAsksForWarmOnly() {
        ServiceSettings settings = Services.small(dir).withPool(StockSettings.of(Services.CHUNK, 0, 64L << 20, 2));
        try (Service service = Services.started(settings);
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            assertThatThrownBy(() -> client.grant(4L << 20, true)).isInstanceOfSatisfying(ServiceException.class,
                    e -> assertThat(e.code()).contains(ErrorCode.POOL_EXHAUSTED));
            try (GrantedMemory memory = client.grant(4L << 20)) {
                assertThat(service.pool().stats().coldChunks()).isEqualTo(2);
                memory.segment().fill((byte) 7);
            }
            assertThatThrownBy(() -> client.grant(66L << 20)).isInstanceOfSatisfying(ServiceException.class,
                    e -> assertThat(e.code()).contains(ErrorCode.TOO_LARGE));
            assertThat(client.status()).contains("\"cold_chunks\":2");
        }
    }

    /**
     * The report: after a 1 GiB grant failed against a 256 MiB stock, 978 MiB stayed ready for 12
     * minutes (the 256 warm chunks it took plus the 722 it populated before its deadline). Here a grant
     * far larger than can be populated within a 100 ms cold deadline.
     */
    @Test
    void aFailedColdGrantLeavesTheStockAtItsTargetAndCountsItsChunksAsOnDemand() throws Exception {
        long maximum = 4L << 30;
        ServiceSettings settings = Services.small(dir).withPool(StockSettings.of(Services.CHUNK, 16L << 20, maximum, 2))
                .withQuota(new ServiceSettings.Quota(maximum, 0))
                .withLimits(maximum, Duration.ofMillis(100), ServiceSettings.defaults(dir).frameTimeout(), 8);
        try (Service service = Services.started(settings);
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            // Well inside the maximum, so that only the deadline can refuse it, not the kernel count's allowance.
            assertThatThrownBy(() -> client.grant(maximum - (64L << 20))).isInstanceOfSatisfying(ServiceException.class,
                    e -> assertThat(e.code()).contains(ErrorCode.POOL_EXHAUSTED));
            JsonNode failed = new ObjectMapper().readTree(client.status());
            assertThat(failed.at("/pool/ready_bytes").asLong()).as("back at the target when the refusal arrives")
                    .isLessThanOrEqualTo(16L << 20);
            assertThat(failed.at("/pool/cold_chunks").asLong()).as("populated for the failed grant, on demand")
                    .isPositive();
            assertThat(failed.at("/pool/trimmed_chunks").asLong()).isGreaterThanOrEqualTo(failed.at("/pool/cold_chunks").asLong());
            assertThat(failed.at("/pool/outstanding_bytes").asLong()).isZero();

            service.pool().warm((done, total) -> { }); // returns once refill is idle at the target
            JsonNode settled = new ObjectMapper().readTree(client.status());
            assertThat(settled.at("/pool/ready_bytes").asLong()).isEqualTo(16L << 20);
            assertThat(settled.at("/pool/chunks_populated").asLong()).isEqualTo(
                    settled.at("/pool/warmed_chunks").asLong() + settled.at("/pool/cold_chunks").asLong());
            assertThat(settled.at("/grants/refused/POOL_EXHAUSTED").asLong()).isEqualTo(1);
        }
    }

    @Test
    void aUserOverItsQuotaIsRefusedUntilItReleases() throws Exception {
        ServiceSettings settings = Services.small(dir).withQuota(new ServiceSettings.Quota(8L << 20, 0));
        try (Service service = Services.started(settings);
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            GrantedMemory first = client.grant(6L << 20);
            assertThatThrownBy(() -> client.grant(4L << 20)).isInstanceOfSatisfying(ServiceException.class, e -> {
                assertThat(e.code()).contains(ErrorCode.OVER_QUOTA);
                assertThat(e.getMessage()).contains("quota of 8 MiB");
            });
            first.close();
            try (GrantedMemory second = client.grant(8L << 20)) {
                assertThat(second.bytes()).isEqualTo(8L << 20);
            }
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> service.quotas().outstandingByUid().isEmpty()))
                    .as("released and unmapped: free once the kernel's count confirms it").isTrue();
        }
    }

    /**
     * Closing hangs up on every client, but lets the request a connection is answering finish first:
     * here a grant over the quota, waiting for a release whose descriptors the client keeps, so it ends
     * refused. No connection is left when close returns.
     */
    @Test
    void closingLetsTheRequestInFlightFinishThenHangsUpOnEveryClient() throws Exception {
        ServiceSettings settings = Services.small(dir).withQuota(new ServiceSettings.Quota(4L << 20, 1000));
        // The request rate's clock, read once per rate-limited request, as its answer begins.
        Semaphore requests = new Semaphore(0);
        Service service = TimedServices.started(settings, new Service.Timing(Holdings.SCAN_INTERVAL, () -> {
            requests.release();
            return System.nanoTime();
        }));
        try (UnixSocket busy = UnixSocket.connect(settings.socket());
             UnixSocket idle = UnixSocket.connect(settings.socket())) {
            FrameReader busyReader = new FrameReader(busy, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            FrameReader idleReader = new FrameReader(idle, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            busy.send(new Messages.Hello(1, 1).frame(0).encode());
            Messages.Welcome.decode(busyReader.next());
            idle.send(new Messages.Hello(1, 1).frame(0).encode());
            Messages.Welcome.decode(idleReader.next());
            busy.send(new Messages.Grant(4L << 20, 0).frame(1).encode());
            Frame kept = busyReader.next();
            busy.send(new Messages.Release(Messages.Chunks.decode(kept).grantId()).frame(2).encode());
            Messages.Released.decode(busyReader.next());
            busy.send(new Messages.Grant(2L << 20, 0).frame(3).encode());
            assertThat(requests.tryAcquire(2, Services.SWEEP.toSeconds(), TimeUnit.SECONDS))
                    .as("the second grant is being answered").isTrue();

            service.close();
            assertThat(service.clients()).as("as close returns").isZero();
            assertThat(settings.socket()).as("the socket file it made").doesNotExist();
            Frame answer = busyReader.next();
            assertThat(answer.requestId()).as("the request in flight was answered").isEqualTo(3);
            assertThat(Messages.Error.decode(answer).code()).isEqualTo(ErrorCode.OVER_QUOTA.code());
            assertThat(busyReader.next()).as("then hung up on").isNull();
            assertThat(idleReader.next()).as("hung up on").isNull();
            kept.closeFds();
            service.awaitStopped();
        } finally {
            service.close();
        }
    }

    @Test
    void aUserOverItsRequestRateIsRefusedAndTheConnectionStaysUsable() throws Exception {
        ServiceSettings settings = Services.small(dir).withQuota(new ServiceSettings.Quota(256L << 20, 5));
        AtomicLong clock = new AtomicLong();
        try (Service service = TimedServices.started(settings, new Service.Timing(Holdings.SCAN_INTERVAL, clock::get));
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            int limited = 0;
            for (int i = 0; i < 20; i++) {
                try {
                    client.status();
                } catch (ServiceException e) {
                    assertThat(e.code()).contains(ErrorCode.RATE_LIMITED);
                    limited++;
                }
            }
            assertThat(limited).as("the clock stood still: a bucket of 5 tokens, HELLO is not counted")
                    .isEqualTo(15);
            clock.addAndGet(Duration.ofMillis(400).toNanos());
            assertThat(client.status()).as("400 ms later: 2 tokens").contains("\"RATE_LIMITED\":" + limited);
            client.status();
            assertThatThrownBy(client::status).isInstanceOfSatisfying(ServiceException.class,
                    e -> assertThat(e.code()).contains(ErrorCode.RATE_LIMITED));
        }
    }

    @Test
    void aGrantCountsUntilNoProcessHoldsItsFilesWhateverTheClientSays() throws Exception {
        try (Service service = TimedServices.scanningOften(Services.small(dir))) {
            XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"));
            GrantedMemory kept = client.grant(4L << 20);
            client.close();
            // Sweeps run only once something is pending: this one began after the connection ended.
            assertThat(service.holdings().awaitSweep(Services.SWEEP)).isTrue();
            assertThat(service.holdings().awaitSweep(Services.SWEEP)).isTrue();
            assertThat(service.holdings().pendingGrants()).isEqualTo(1);
            assertThat(service.quotas().outstandingByUid()).as("disconnected, but the mapping is kept, two sweeps later")
                    .containsValue(4L << 20);
            // The mapping outlives the connection: the files are this process's now.
            kept.segment().set(ValueLayout.JAVA_INT, 0, 42);
            assertThat(kept.segment().get(ValueLayout.JAVA_INT, 0)).isEqualTo(42);
            kept.close();
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.quotas().outstandingByUid().isEmpty()
                    && service.pool().stats().handedOutBytes() == 0)).as("unmapped: no longer counted").isTrue();

            // A client that keeps the descriptors and says RELEASE is charged again by the next scan.
            try (UnixSocket raw = UnixSocket.connect(dir.resolve("xpfo.sock"))) {
                FrameReader reader = new FrameReader(raw, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
                raw.send(new Messages.Hello(1, 1).frame(0).encode());
                Messages.Welcome.decode(reader.next());
                raw.send(new Messages.Grant(2L << 20, 0).frame(1).encode());
                Frame chunks = reader.next();
                long grant = Messages.Chunks.decode(chunks).grantId();
                raw.send(new Messages.Release(grant).frame(2).encode());
                Messages.Released.decode(reader.next());
                assertThat(service.holdings().awaitSweep(Services.SWEEP)).isTrue();
                assertThat(service.quotas().outstandingByUid()).as("released while the descriptors are kept: still charged")
                        .containsEntry(0, 2L << 20);
                assertThat(service.statusJson()).contains("\"still_held\":1");
                chunks.closeFds();
            }
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.quotas().outstandingByUid().isEmpty()))
                    .as("descriptors closed: freed by the next scan").isTrue();
            assertThat(service.statusJson()).contains("\"still_held\":0");
        }
    }

    @Test
    void aGrantReleasedAfterPassingItsDescriptorsOnIsChargedAgainUntilTheyAreClosed() throws Exception {
        try (Service service = Services.started(Services.small(dir));
             UnixSocket catcher = UnixSocket.listen(dir.resolve("catcher.sock"))) {
            Process passer = TestJvm.start(HalfClient.class, "pass", dir.resolve("xpfo.sock").toString(),
                    Long.toString(4L << 20), dir.resolve("catcher.sock").toString());
            try (UnixSocket from = catcher.accept()) {
                UnixSocket.Received passed = from.receive(1, Protocol.MAX_FDS_PER_FRAME);
                assertThat(passed.fds()).hasSize(2);
                String reply = Child.watch(passer).nextLine(Duration.ofSeconds(60));
                assertThat(reply).isEqualTo("RELEASED");
                assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.quotas().outstandingByUid()
                        .getOrDefault(0, 0L) == 4L << 20)).as("charged again: another process holds the files").isTrue();
                for (int fd : passed.fds()) {
                    XpfoFile.adopt(fd).close();
                }
                assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.quotas().outstandingByUid().isEmpty()))
                        .as("closed everywhere: freed").isTrue();
            } finally {
                passer.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void oneUserCannotTakeEveryConnection() {
        ServiceSettings settings = Services.small(dir).withClients(8, 2);
        try (Service service = Services.started(settings);
             XpfoClient first = XpfoClient.connect(settings.socket());
             XpfoClient second = XpfoClient.connect(settings.socket())) {
            assertThatThrownBy(() -> XpfoClient.connect(settings.socket())).isInstanceOfSatisfying(ServiceException.class, e -> {
                assertThat(e.code()).contains(ErrorCode.BUSY);
                assertThat(e.getMessage()).contains("2 of them from uid 0");
            });
            assertThat(first.status()).contains("\"BUSY\":1");
        }
    }

    @Test
    void theSocketIsOwnerOnlyByDefaultAndAServiceDoesNotStealALiveSocket() throws Exception {
        try (Service service = Services.started(Services.small(dir))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("xpfo.sock"))))
                    .isEqualTo("rw-------");
            assertThatThrownBy(() -> Service.start(Services.small(dir))).hasMessageContaining("already listening");
        }
        assertThat(dir.resolve("xpfo.sock")).doesNotExist();
    }

    @Test
    void statusAndMetricsReportTheSameState() throws Exception {
        ServiceSettings settings = Services.small(dir).withMetrics(new InetSocketAddress("127.0.0.1", 0));
        try (Service service = Services.started(settings);
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"));
             GrantedMemory memory = client.grant(4L << 20)) {
            JsonNode status = new ObjectMapper().readTree(client.status());
            assertThat(status.at("/pool/target_bytes").asLong()).isEqualTo(16L << 20);
            assertThat(status.at("/pool/ready_bytes").asLong()).isBetween(12L << 20, 16L << 20);
            assertThat(status.at("/pool/outstanding_bytes").asLong()).isEqualTo(4L << 20);
            assertThat(status.at("/outstanding_bytes_by_uid").elements().next().asLong()).isEqualTo(4L << 20);
            assertThat(status.at("/grants/total").asLong()).isEqualTo(1);
            assertThat(status.at("/clients/connected").asLong()).isEqualTo(1);

            assertThatThrownBy(() -> Service.start(Services.small(dir.resolve("other"))
                    .withMetrics(new InetSocketAddress("0.0.0.0", 0)))).hasMessageContaining("loopback only");
            String metrics;
            try (InputStream in = URI.create(service.metricsAddress()).toURL().openStream()) {
                metrics = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            assertThat(metrics).contains("xpfo_grants_total 1.0").contains("xpfo_granted_bytes_total 4194304.0")
                    .contains("xpfo_outstanding_bytes 4194304.0")
                    .contains("xpfo_grant_duration_seconds_count 1")
                    .contains("xpfo_refusals_total{code=\"OVER_QUOTA\"} 0.0");
        }
    }
}
