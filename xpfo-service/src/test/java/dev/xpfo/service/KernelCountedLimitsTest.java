// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.ServiceException;
import dev.xpfo.client.ServiceSocket;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The stock's maximum and the users' quotas against a client that hides its grants' descriptors from
 * any scan of /proc (a socketpair's queue, io_uring's fixed files) or keeps them, and against a process
 * that dresses an ordinary file up as secret memory.
 */
class KernelCountedLimitsTest {
    private static final long MIB = 1L << 20;
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    private ServiceSettings settings(long target, long maximum, long quota) {
        return Services.small(dir).withPool(StockSettings.of(Services.CHUNK, target, maximum, 2))
                .withQuota(new ServiceSettings.Quota(quota, 0));
    }

    /** A running park_grants client: its lines as they come, and a way to tell it to go on. */
    private static final class Parker implements AutoCloseable {
        final Process process;
        final Child.Watch lines;
        final OutputStream input;
        final List<String> seen = new ArrayList<>();

        Parker(Path socket, String where, long bytes, int rounds, Duration patience) throws Exception {
            process = new ProcessBuilder(CClient.program("park_grants").toString(), socket.toString(), where,
                    Long.toString(bytes), Integer.toString(rounds), Long.toString(patience.toMillis()))
                    .redirectErrorStream(true).start();
            lines = Child.watch(process);
            input = process.getOutputStream();
        }

        /**
         * Reads lines until one starts with {@code prefix}; returns it. A line not coming within a minute, or
         * the end of the output, fails the test with what park_grants printed.
         */
        String until(String prefix) throws InterruptedException {
            while (true) {
                String line = lines.nextLine(Duration.ofSeconds(60));
                seen.add(line);
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
        }

        void next() throws IOException {
            input.write('\n');
            input.flush();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly().waitFor();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"socketpair", "io_uring"})
    void descriptorsParkedWhereNoScanSeesThemHoldNoMoreThanTheMaximum(String where) throws Exception {
        try (Service service = Services.started(settings(16 * MIB, 64 * MIB, 64 * MIB));
             Parker parker = new Parker(dir.resolve("xpfo.sock"), where, 8 * MIB, 24, Duration.ofSeconds(4))) {
            int parked = Integer.parseInt(parker.until("PARKED ").substring("PARKED ".length()));
            assertThat(parked * 8 * MIB).as("memory parked past RELEASE: %s", parker.seen).isLessThanOrEqualTo(64 * MIB);
            // The user's quota is the maximum here: whichever refuses first, the kernel's count holds.
            assertThat(parker.seen.get(parker.seen.size() - 2)).matches("REFUSED (POOL_EXHAUSTED|OVER_QUOTA) .*");
            assertThat(service.kernel().countNow()).as("what the kernel counts of the service's memory")
                    .isLessThanOrEqualTo(64 * MIB);
            // The kernel's statistics lag a populate by a few pages per CPU (LRU batches): wait for them.
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.kernel().countNow() >= parked * 8 * MIB))
                    .as("the kernel counts every parked byte: %s", service.kernel().countNow()).isTrue();
            assertThat(service.statusJson()).contains("\"kernel_count\":{\"counting\":true");

            parker.next();
            parker.until("CLOSED");
            assertThat(Services.eventually(Duration.ofSeconds(15), () -> service.quotas().outstandingByUid().isEmpty()
                    && service.pool().stats().handedOutBytes() == 0))
                    .as("the parked files closed: the kernel's count confirms them gone").isTrue();
            parker.next();
            assertThat(parker.until("GRANTED")).isEqualTo("GRANTED");
        }
    }

    @Test
    void nothingIsPopulatedPastTheMaximumByTheKernelsCountEvenWhatTheStockDoesNotKnowAbout() throws Exception {
        try (Service service = Services.started(settings(16 * MIB, 64 * MIB, 64 * MIB));
             XpfoClient client = XpfoClient.connect(dir.resolve("xpfo.sock"))) {
            // Secret memory populated from the service's cgroup behind the stock's back (here by this
            // test, which runs the service in-process): the stock counts 16 MiB, the kernel 56 MiB.
            long lruBatches = 31L * Runtime.getRuntime().availableProcessors() * PageSize.BYTES;
            try (XpfoFile outside = XpfoFile.create(40 * MIB)) {
                outside.populate();
                // The gate renews its reading of the kernel's count every 250 ms; up to 31 pages per CPU
                // can wait in the CPUs' LRU-add batches, not yet counted.
                assertThat(Services.eventually(Duration.ofSeconds(5),
                        () -> service.kernel().lastCounted() >= 56 * MIB - lruBatches)).isTrue();
                assertThatThrownBy(() -> client.grant(32 * MIB)).isInstanceOfSatisfying(ServiceException.class, e -> {
                    assertThat(e.code()).contains(ErrorCode.POOL_EXHAUSTED);
                    assertThat(e.getMessage()).contains("by the kernel's count");
                });
                assertThat(service.kernel().countNow()).isLessThanOrEqualTo(64 * MIB);
            }
            // Up to 31 pages per CPU of the closed file can stay counted in the CPUs' munlock batches.
            assertThat(Services.eventually(Duration.ofSeconds(5),
                    () -> service.kernel().lastCounted() <= 16 * MIB + lruBatches)).isTrue();
            try (GrantedMemory memory = client.grant(32 * MIB)) {
                assertThat(memory.bytes()).as("the outside memory freed: room again").isEqualTo(32 * MIB);
            }
        }
    }

    @Test
    void twoServicesInOneProcessShareItsCountAndBothSeeTheirReleasesConfirmed() throws Exception {
        Path other = Files.createDirectory(dir.resolve("other"));
        try (Service first = Services.started(settings(16 * MIB, 64 * MIB, 64 * MIB));
             Service second = Services.started(Services.small(other)
                     .withPool(StockSettings.of(Services.CHUNK, 8 * MIB, 32 * MIB, 2)));
             XpfoClient one = XpfoClient.connect(dir.resolve("xpfo.sock"));
             XpfoClient two = XpfoClient.connect(other.resolve("xpfo.sock"))) {
            assertThat(second.kernel().cgroup().directory()).isEqualTo(first.kernel().cgroup().directory());
            one.grant(4 * MIB).close();
            two.grant(4 * MIB).close();
            assertThat(Services.eventually(Duration.ofSeconds(15), () -> first.quotas().outstandingByUid().isEmpty()
                    && second.quotas().outstandingByUid().isEmpty())).as("each release confirmed by the shared count").isTrue();
        }
    }

    @Test
    void grantAndReleaseInALoopWhileKeepingTheDescriptorsStaysWithinTheQuota() throws Exception {
        try (Service service = Services.started(settings(16 * MIB, 64 * MIB, 8 * MIB));
             Parker parker = new Parker(dir.resolve("xpfo.sock"), "keep", 8 * MIB, 8, Duration.ZERO)) {
            String parked = parker.until("PARKED ");
            assertThat(parker.seen).as("released, but every descriptor kept")
                    .containsExactly("GRANTED 1", parker.seen.get(1), "PARKED 1");
            assertThat(parker.seen.get(1)).startsWith("REFUSED OVER_QUOTA")
                    .contains("not yet gone by the kernel's count");
            assertThat(parked).isEqualTo("PARKED 1");
            assertThat(service.quotas().outstanding(ServiceSocket.currentUid())).isEqualTo(8 * MIB);
        }
    }

    @Test
    void anOrdinaryFileNamedLikeSecretMemoryWithTheSameInodeDoesNotKeepAReleasedGrantCharged() throws Exception {
        assumeTrue(ServiceSocket.currentUid() == 0, "skipped: mounting a tmpfs takes root");
        Path decoys = Files.createTempDirectory(Path.of("/tmp"), "xpfo-decoy");
        Child.Result mounted = Child.run(List.of("mount", "-t", "tmpfs", "-o", "mode=0755,size=1M,nr_inodes=0", "xpfo-decoy",
                decoys.toString()), Duration.ofSeconds(30));
        assertThat(mounted.exitCode()).as(mounted.output()).isZero();
        Process mapper = null;
        try (Service service = TimedServices.scanningOften(settings(16 * MIB, 64 * MIB, 8 * MIB));
             UnixSocket victim = UnixSocket.connect(dir.resolve("xpfo.sock"))) {
            FrameReader reader = new FrameReader(victim, Protocol.MAX_REPLY_PAYLOAD, Protocol.MAX_FDS_PER_FRAME);
            victim.send(new Messages.Hello(1, 1).frame(0).encode());
            Messages.Welcome.decode(reader.next());
            victim.send(new Messages.Grant(8 * MIB, 0).frame(1).encode());
            Frame chunks = reader.next();
            long grant = Messages.Chunks.decode(chunks).grantId();
            long inode = ((Number) Files.getAttribute(Path.of("/proc/self/fd/" + chunks.fds()[0]), "unix:ino")).longValue();

            // The attacker: a tmpfs file called secretmem-N with the inode number of the victim's chunk,
            // mapped by another user.
            Path decoy = decoyWithInode(decoys, inode);
            mapper = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                    CClient.program("map_file").toString(), decoy.toString()).redirectErrorStream(true).start();
            assertThat(Child.watch(mapper).nextLine(Duration.ofSeconds(30))).isEqualTo("MAPPED");

            // The victim really lets go: closes its files, then says RELEASE.
            chunks.closeFds();
            victim.send(new Messages.Release(grant).frame(2).encode());
            Messages.Released.decode(reader.next());
            int uid = ServiceSocket.currentUid();
            assertThat(service.holdings().awaitConfirmed(uid, () -> service.quotas().outstanding(uid) == 0, Services.SWEEP))
                    .as("the release confirmed gone, the decoy's mapping notwithstanding").isTrue();

            victim.send(new Messages.Grant(8 * MIB, 0).frame(3).encode());
            Frame again = reader.next();
            assertThat(again.kind()).as("the victim's next grant: %s", new String(again.payload(), StandardCharsets.UTF_8))
                    .contains(dev.xpfo.protocol.FrameType.CHUNKS);
            again.closeFds();
            // Before the service stops: a child started from its cgroup keeps that cgroup busy.
            mapper.destroyForcibly().waitFor();
        } finally {
            if (mapper != null) {
                mapper.destroyForcibly().waitFor();
            }
            Child.run(List.of("umount", decoys.toString()), Duration.ofSeconds(30));
            Files.delete(decoys);
        }
    }

    /**
     * Makes files on the fresh tmpfs until one gets inode number {@code inode} (tmpfs numbers its
     * inodes in order), names it {@code secretmem-1}, readable and writable by everyone.
     */
    private static Path decoyWithInode(Path tmpfs, long inode) throws IOException {
        Path scratch = tmpfs.resolve("scratch");
        for (long made = 0; made < 50_000_000L; made++) {
            Files.createFile(scratch);
            long number = ((Number) Files.getAttribute(scratch, "unix:ino")).longValue();
            if (number == inode) {
                Path decoy = tmpfs.resolve("secretmem-1");
                Files.move(scratch, decoy);
                Files.write(decoy, new byte[4096]);
                Files.setPosixFilePermissions(decoy, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
                return decoy;
            }
            Files.delete(scratch);
            assumeTrue(number < inode, "skipped: the tmpfs numbers its inodes past " + inode + " already");
        }
        throw new AssertionError("no tmpfs inode " + inode);
    }
}
