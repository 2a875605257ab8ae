// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import dev.xpfo.memory.XpfoClosedException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The state word: a number is closed exactly once, never while a call holds it. */
class DescriptorTest {
    private int readEnd;
    private int writeEnd;

    @BeforeEach
    void pipe() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            assertThat(Libc.pipe2(fds, Libc.O_CLOEXEC)).isZero();
            readEnd = fds.get(JAVA_INT, 0);
            writeEnd = fds.get(JAVA_INT, 4);
        }
    }

    @AfterEach
    void closeTheOtherEnd() {
        Libc.close(writeEnd);
    }

    @Test
    void closeWithNoCallInFlightClosesTheNumberAtOnceAndOnlyOnce() {
        Descriptor descriptor = new Descriptor(readEnd, "pipe");
        List<Integer> woken = new ArrayList<>();
        descriptor.close(woken::add);
        assertThat(isOpen(readEnd)).isFalse();
        assertThat(woken).as("nothing in flight to wake").isEmpty();
        assertThat(descriptor.isClosed()).isTrue();
        descriptor.close(woken::add);
        assertThat(woken).isEmpty();
    }

    @Test
    void closeDuringACallWakesItWithTheNumberStillOpenAndTheLastReleaseCloses() {
        Descriptor descriptor = new Descriptor(readEnd, "pipe");
        int number = descriptor.acquire();
        List<Boolean> openWhileWaking = new ArrayList<>();
        descriptor.close(fd -> openWhileWaking.add(fd == readEnd && isOpen(fd)));
        assertThat(openWhileWaking).containsExactly(true);
        assertThat(isOpen(number)).as("held by the call in flight").isTrue();
        assertThatThrownBy(descriptor::acquire).isInstanceOf(XpfoClosedException.class).hasMessage("pipe is closed");
        assertThat(descriptor.tryAcquire()).isEqualTo(-1);
        descriptor.release();
        assertThat(isOpen(number)).as("closed by the last call out").isFalse();
    }

    @Test
    void everyCallInFlightKeepsTheNumberOpenUntilTheLastReleases() {
        Descriptor descriptor = new Descriptor(readEnd, "pipe");
        descriptor.acquire();
        descriptor.acquire();
        descriptor.close();
        descriptor.release();
        assertThat(isOpen(readEnd)).isTrue();
        descriptor.release();
        assertThat(isOpen(readEnd)).isFalse();
    }

    @Test
    void releasingMoreThanWasTakenIsABug() {
        Descriptor descriptor = new Descriptor(readEnd, "pipe");
        assertThatThrownBy(descriptor::release).isInstanceOf(IllegalStateException.class);
        Libc.close(readEnd);
    }

    private static boolean isOpen(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("pipe:");
        } catch (IOException e) {
            return false;
        }
    }
}
