// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameReader;
import dev.xpfo.protocol.Messages;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Connections as a scarce resource: no few users can take them all, and idle ones are given back. */
class ConnectionLimitsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void theDefaultsKeepEachUserWellBelowTheTotal() {
        ServiceSettings defaults = ServiceSettings.defaults(dir.resolve("xpfo.sock"));
        assertThat(defaults.maxClientsPerUid() * 4).isLessThanOrEqualTo(defaults.maxClients());
        assertThat(defaults.idleTimeout()).isPositive();
    }

    /** Two users each open as many idle handshaken connections as they are let; a third still gets in. */
    @Test
    void idleConnectionsOfTwoUsersCannotLockAThirdOut() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: connecting as two other uids takes root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        ServiceSettings settings = Services.small(dir).withSocketMode(0666);
        Path holder = CClient.program("hold_connections");
        List<Process> hogs = new ArrayList<>();
        try (Service service = Services.started(settings)) {
            int half = settings.maxClients() / 2;
            for (int uid : new int[]{TestJvm.NOBODY, TestJvm.NOBODY - 1}) {
                Process hog = new ProcessBuilder(CClient.as(uid, holder.toString(), settings.socket().toString(),
                        Integer.toString(half))).redirectErrorStream(true).start();
                hogs.add(hog);
                int held = held(hog);
                assertThat(held).as("connections uid %d kept", uid).isEqualTo(settings.maxClientsPerUid());
            }
            assertThat(service.clients()).isEqualTo(2 * settings.maxClientsPerUid());

            try (XpfoClient third = XpfoClient.connect(settings.socket());
                 GrantedMemory memory = third.grant(Services.CHUNK)) {
                memory.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
                assertThat(third.status()).contains("\"BUSY\":2");
            }
        } finally {
            for (Process hog : hogs) {
                hog.destroyForcibly().waitFor();
            }
        }
    }

    /**
     * The review's reproduction: a full table (4 connections, 2 per uid), two uids holding 2 grant-less
     * connections each and keeping them busy with STATUS, an idle timeout far away. A third uid, below
     * its fair share, still gets in: the oldest grant-less connection of a uid above its share makes room,
     * and its client is told why.
     */
    @Test
    void aUserBelowItsFairShareEvictsTheOldestGrantLessConnectionWhenTheTableIsFull() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: connecting as two other uids takes root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        ServiceSettings settings = Services.small(dir).withSocketMode(0666).withClients(4, 2)
                .withIdleTimeout(Duration.ofSeconds(60));
        Path holder = CClient.program("hold_connections");
        List<Process> hogs = new ArrayList<>();
        List<Child.Watch> outputs = new ArrayList<>();
        try (Service service = Services.started(settings)) {
            for (int uid : new int[]{TestJvm.NOBODY, TestJvm.NOBODY - 1}) {
                Process hog = new ProcessBuilder(CClient.as(uid, holder.toString(), settings.socket().toString(),
                        "2", "200")).redirectErrorStream(true).start();
                hogs.add(hog);
                Child.Watch output = Child.watch(hog);
                outputs.add(output);
                assertThat(held(output)).as("connections uid %d kept", uid).isEqualTo(2);
            }
            assertThat(service.clients()).isEqualTo(4);

            try (XpfoClient third = XpfoClient.connect(settings.socket());
                 GrantedMemory memory = third.grant(Services.CHUNK)) {
                memory.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
                assertThat(service.clients()).as("room was made, not added").isLessThanOrEqualTo(4);
                assertThat(third.status()).as("the evicted connection was told BUSY").contains("\"BUSY\":1");
            }
            // The evicted client finds out at its next STATUS (the BUSY frame, or the closed socket).
            assertThat(firstLost(outputs)).startsWith("lost: ");
        } finally {
            for (Process hog : hogs) {
                hog.destroyForcibly().waitFor();
            }
        }
    }

    /** When every connection of the uid above its share holds a grant, none is evicted: BUSY as before. */
    @Test
    void connectionsThatEachHoldAGrantAreNeverEvicted() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: connecting as another uid takes root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        ServiceSettings settings = Services.small(dir).withSocketMode(0666).withClients(2, 2);
        Path holder = CClient.program("hold_connections");
        try (Service service = Services.started(settings);
             XpfoClient first = XpfoClient.connect(settings.socket());
             GrantedMemory one = first.grant(Services.CHUNK);
             XpfoClient second = XpfoClient.connect(settings.socket());
             GrantedMemory two = second.grant(Services.CHUNK)) {
            // Root has both places, over its fair share of 1 once another uid asks, but each holds a grant.
            Process other = new ProcessBuilder(CClient.as(TestJvm.NOBODY, holder.toString(), settings.socket().toString(),
                    "1")).redirectErrorStream(true).start();
            try {
                Child.Watch output = Child.watch(other);
                assertThat(output.nextLine(Duration.ofSeconds(60))).startsWith("refused: ").contains("BUSY");
                assertThat(held(output)).isZero();
            } finally {
                other.destroyForcibly().waitFor();
            }
            assertThat(first.status()).contains("\"connected\":2");
            assertThat(second.status()).contains("\"connected\":2");
        }
    }

    /** A client that keeps asking for STATUS, but never makes or releases a grant, is idle all the same. */
    @Test
    void statusRequestsDoNotKeepAGrantLessConnectionOpenPastTheIdleTimeout() throws Exception {
        Duration idle = Duration.ofMillis(600);
        ServiceSettings settings = Services.small(dir).withIdleTimeout(idle);
        try (Service service = Services.started(settings);
             UnixSocket chatty = UnixSocket.connect(settings.socket())) {
            chatty.timeouts(Duration.ofMillis(100), Duration.ofSeconds(5));
            FrameReader reader = new FrameReader(chatty, Protocol.MAX_REPLY_PAYLOAD, 0).idleDeadline(Duration.ofSeconds(30));
            chatty.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(1).encode());
            Messages.Welcome.decode(reader.next());
            boolean closed = false;
            // A STATUS every third of the timeout, for up to 20 timeouts: a safety bound, not a timing claim.
            for (int request = 2; request < 62 && !closed; request++) {
                try {
                    chatty.send(Frame.of(dev.xpfo.protocol.FrameType.STATUS, request, new byte[0]).encode());
                    closed = reader.next() == null;
                } catch (RuntimeException e) {
                    closed = true; // the service hung up while we were sending or reading
                }
                Thread.sleep(idle.toMillis() / 3);
            }
            assertThat(closed).as("closed although it sent STATUS more often than the idle timeout").isTrue();
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> service.clients() == 0)).isTrue();
        }
    }

    /** The first "lost: " line any of the hogs prints (a connection the service closed). */
    private static String firstLost(List<Child.Watch> outputs) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            for (Child.Watch output : outputs) {
                java.util.Optional<String> lost = output.printed().lines().filter(line -> line.startsWith("lost: ")).findFirst();
                if (lost.isPresent()) {
                    return lost.get();
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no hog lost a connection");
    }

    /** Reads the hog's "held K" line (it prints the refusal first, if it met one). */
    private static int held(Process hog) throws Exception {
        return held(Child.watch(hog));
    }

    /** Reads lines until "held K"; one not coming within a minute, or the output ending, fails the test. */
    private static int held(Child.Watch lines) throws Exception {
        while (true) {
            Matcher held = Pattern.compile("held (\\d+)").matcher(lines.nextLine(Duration.ofSeconds(60)));
            if (held.matches()) {
                return Integer.parseInt(held.group(1));
            }
        }
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeoutButOneHoldingAGrantIsNot() throws Exception {
        Duration idle = Duration.ofMillis(300);
        ServiceSettings settings = Services.small(dir).withIdleTimeout(idle);
        try (Service service = Services.started(settings);
             XpfoClient holding = XpfoClient.connect(settings.socket());
             GrantedMemory memory = holding.grant(Services.CHUNK);
             UnixSocket quiet = UnixSocket.connect(settings.socket())) {
            memory.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 7);
            // Safety bounds only, so that a service that never closes fails the test instead of hanging it.
            quiet.timeouts(Duration.ofMillis(100), Duration.ofSeconds(5));
            FrameReader reader = new FrameReader(quiet, Protocol.MAX_REPLY_PAYLOAD, 0).idleDeadline(Duration.ofSeconds(30));
            quiet.send(new Messages.Hello(Protocol.VERSION, Protocol.VERSION).frame(1).encode());
            Messages.Welcome.decode(reader.next());
            long handshaken = System.nanoTime();

            Frame after = reader.next();

            assertThat(after).as("the service hung up between frames, sending nothing").isNull();
            assertThat(Duration.ofNanos(System.nanoTime() - handshaken)).as("not before the idle timeout")
                    .isGreaterThanOrEqualTo(idle);
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> service.clients() == 1)).isTrue();
            // Idle longer than the quiet one was, yet still served: it holds a grant.
            assertThat(holding.status()).contains("\"connected\":1");
            assertThat(memory.segment().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
        }
    }

    /** The idle timeout closes what holds nothing: a client never notices, its next request connects again. */
    @Test
    void aClientWhoseIdleConnectionWasClosedConnectsAgainForItsNextRequest() throws Exception {
        ServiceSettings settings = Services.small(dir).withIdleTimeout(Duration.ofMillis(300));
        try (Service service = Services.started(settings);
             XpfoClient client = XpfoClient.connect(settings.socket())) {
            assertThat(client.status()).contains("\"connected\":1");
            assertThat(Services.eventually(Duration.ofSeconds(10), () -> service.clients() == 0))
                    .as("the service closed the idle connection").isTrue();

            try (GrantedMemory memory = client.grant(Services.CHUNK)) {
                memory.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 9);
                assertThat(memory.segment().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 9);
                assertThat(client.status()).contains("\"connected\":1");
            }
        }
    }
}
