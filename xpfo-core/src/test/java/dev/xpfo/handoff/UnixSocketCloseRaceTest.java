// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoClosedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link UnixSocket#close()} from another thread never lets a call in flight land on whatever the
 * kernel gives the closed descriptor's number next: the attack closes a socket while a thread sends
 * or receives on it, opens a decoy socket at once (the kernel hands out the lowest free number, so the
 * decoy gets the closed one), and looks for the call's traffic on the decoy.
 */
class UnixSocketCloseRaceTest {
    private static final int ROUNDS = 2_000;
    private static final byte[] MARK = "victim".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DECOY = "decoy".getBytes(StandardCharsets.US_ASCII);

    @Test
    void aSendRacingCloseNeverReachesADescriptorOpenedAfterTheClose() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(256);
            for (int round = 0; round < ROUNDS; round++) {
                int[] victimPair = socketPair(arena);
                UnixSocket victim = UnixSocket.adopt(victimPair[0]);
                CountDownLatch sending = new CountDownLatch(1);
                Thread sender = Thread.ofPlatform().start(() -> {
                    sending.countDown();
                    try {
                        // A few sends only: the victim's peer never reads, and its buffer must not fill.
                        for (int i = 0; i < 32; i++) {
                            victim.send(MARK);
                        }
                    } catch (XpfoClosedException | NativeCallException e) {
                        // closed under it: what it should see
                    }
                });
                sending.await();
                spin(ThreadLocalRandom.current().nextInt(2_000));
                victim.close();
                int[] decoy = socketPair(arena);
                sender.join();
                Libc.close(decoy[0]);
                long landed = Libc.read(decoy[1], buffer, buffer.byteSize());
                Libc.close(decoy[1]);
                Libc.close(victimPair[1]);
                assertThat(landed).as("bytes a send on the closed socket delivered to the socket opened after "
                        + "the close (descriptor %d), round %d", decoy[0], round).isZero();
            }
        }
    }

    @Test
    void aReceiveRacingCloseNeverReadsADescriptorOpenedAfterTheClose() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment decoyData = arena.allocateFrom(JAVA_BYTE, DECOY);
            for (int round = 0; round < ROUNDS; round++) {
                int[] victimPair = socketPair(arena);
                UnixSocket victim = UnixSocket.adopt(victimPair[0]);
                CountDownLatch receiving = new CountDownLatch(1);
                AtomicReference<String> read = new AtomicReference<>("");
                Thread receiver = Thread.ofPlatform().start(() -> {
                    receiving.countDown();
                    try {
                        read.set(new String(victim.receive(64, 1).data(), StandardCharsets.US_ASCII));
                    } catch (XpfoClosedException | NativeCallException e) {
                        // closed under it: what it should see
                    }
                });
                receiving.await();
                spin(ThreadLocalRandom.current().nextInt(2_000));
                victim.close();
                int[] decoy = socketPair(arena);
                assertThat(Libc.write(decoy[1], decoyData, DECOY.length)).isEqualTo(DECOY.length);
                // The victim's peer goes away, so a receive still waiting on the victim socket ends.
                Libc.close(victimPair[1]);
                receiver.join();
                Libc.close(decoy[0]);
                Libc.close(decoy[1]);
                assertThat(read.get()).as("what a receive on the closed socket read from the socket opened "
                        + "after the close (descriptor %d), round %d", decoy[0], round).doesNotContain("decoy");
            }
        }
    }

    @Test
    void closeWakesAReceiveBlockedOnAConnectedSocketAndThenClosesTheDescriptor(@TempDir Path dir) throws Exception {
        try (UnixSocket listener = UnixSocket.listen(dir.resolve("s"))) {
            Set<Integer> before = openDescriptors();
            UnixSocket socket = UnixSocket.connect(dir.resolve("s"));
            Set<Integer> opened = openDescriptors();
            opened.removeAll(before);
            assertThat(opened).as("the descriptor connect opened").hasSize(1);
            int fd = opened.iterator().next();
            try (UnixSocket peer = listener.accept()) {
                AtomicReference<Object> outcome = new AtomicReference<>();
                Thread receiver = blockedReceive(socket, outcome);
                socket.close();
                receiver.join(TimeUnit.SECONDS.toMillis(10));
                boolean woken = !receiver.isAlive();
                peer.close(); // frees a receiver the close did not wake
                receiver.join();
                assertThat(woken).as("the receive blocked on the socket returned once the socket was closed").isTrue();
                assertThat(outcome.get()).isInstanceOfSatisfying(UnixSocket.Received.class,
                        received -> assertThat(received.endOfStream()).isTrue());
                assertThat(descriptorTarget(fd)).as("descriptor %d after the receive returned", fd).isEmpty();
            }
        }
    }

    @Test
    void aCloseDuringAReceiveOnAnAdoptedSocketClosesTheDescriptorWhenTheReceiveReturns() throws Exception {
        // An adopted socket may be shared with another process: close does not shut it down.
        try (Arena arena = Arena.ofConfined()) {
            int[] pair = socketPair(arena);
            UnixSocket socket = UnixSocket.adopt(pair[0]);
            AtomicReference<Object> outcome = new AtomicReference<>();
            Thread receiver = blockedReceive(socket, outcome);
            socket.close();
            assertThat(descriptorTarget(pair[0])).as("held by the receive in flight").startsWith("socket:");
            assertThat(Libc.write(pair[1], arena.allocateFrom(JAVA_BYTE, MARK), MARK.length)).isEqualTo(MARK.length);
            receiver.join();
            assertThat(outcome.get()).isInstanceOfSatisfying(UnixSocket.Received.class,
                    received -> assertThat(received.data()).isEqualTo(MARK));
            assertThat(descriptorTarget(pair[0])).as("descriptor %d after the receive returned", pair[0]).isEmpty();
            Libc.close(pair[1]);
        }
    }

    @Test
    void aCloseWithNothingInFlightClosesTheDescriptorAtOnceAndLaterCallsAreRefused() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            int[] pair = socketPair(arena);
            UnixSocket socket = UnixSocket.adopt(pair[0]);
            socket.close();
            assertThat(descriptorTarget(pair[0])).isEmpty();
            assertThatThrownBy(() -> socket.send(MARK))
                    .isInstanceOf(XpfoClosedException.class);
            assertThatThrownBy(() -> socket.receive(8, 1))
                    .isInstanceOf(XpfoClosedException.class);
            socket.close(); // idempotent
            socket.shutdown(); // nothing to shut down: no error
            Libc.close(pair[1]);
        }
    }

    private static Set<Integer> openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(p -> Integer.parseInt(p.getFileName().toString())).collect(Collectors.toCollection(HashSet::new));
        }
    }

    private static int[] socketPair(Arena arena) {
        MemorySegment fds = arena.allocate(JAVA_INT, 2);
        assertThat(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, fds)).isZero();
        return new int[] {fds.get(JAVA_INT, 0), fds.get(JAVA_INT, 4)};
    }

    private static void spin(int iterations) {
        for (int i = 0; i < iterations; i++) {
            Thread.onSpinWait();
        }
    }

    /** Waits until the thread sleeps in the kernel (state S in its /proc stat): blocked in its receive. */
    /** A thread receiving on {@code socket} (its result or failure into {@code outcome}), once it sleeps in recvmsg. */
    private static Thread blockedReceive(UnixSocket socket, AtomicReference<Object> outcome) throws Exception {
        AtomicInteger tid = new AtomicInteger();
        Thread receiver = Thread.ofPlatform().start(() -> {
            tid.set(Libc.gettid());
            try {
                outcome.set(socket.receive(64, 1));
            } catch (RuntimeException e) {
                outcome.set(e);
            }
        });
        awaitSleepingInTheKernel(receiver, tid);
        return receiver;
    }

    private static void awaitSleepingInTheKernel(Thread thread, AtomicInteger tid) throws IOException {
        while (tid.get() == 0 || !threadState(tid.get()).equals("S")) {
            assertThat(thread.isAlive()).isTrue();
            Thread.onSpinWait();
        }
    }

    private static String threadState(int tid) throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/../" + tid + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }

    /** What the descriptor refers to ({@code socket:[N]}, {@code pipe:[N]}), empty if it is not open. */
    private static String descriptorTarget(int fd) throws IOException {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (NoSuchFileException e) {
            return "";
        }
    }
}
