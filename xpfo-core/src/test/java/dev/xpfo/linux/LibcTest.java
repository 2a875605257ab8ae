// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The bindings return raw results and each thread sees its own errno. */
class LibcTest {

    @Test
    void eachThreadSeesTheErrnoOfItsOwnLastCall() throws Exception {
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<String> failure = new AtomicReference<>();
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            boolean badDescriptor = t % 2 == 0;
            started.add(Thread.ofPlatform().start(() -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment missing = arena.allocateFrom("/nonexistent/xpfo");
                    start.await();
                    for (int i = 0; i < 20_000; i++) {
                        int expected;
                        if (badDescriptor) {
                            Libc.close(-1);
                            expected = Errno.EBADF;
                        } else {
                            Libc.open(missing, Libc.O_RDONLY, 0);
                            expected = Errno.ENOENT;
                        }
                        int seen = Libc.errno();
                        if (seen != expected) {
                            failure.compareAndSet(null, "expected " + Errno.name(expected) + " but saw " + Errno.name(seen));
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        start.countDown();
        for (Thread thread : started) {
            thread.join();
        }
        assertThat(failure.get()).isNull();
    }

    @Test
    void memfdSecretIsTheRawSyscallAndRejectsUnknownFlags() {
        int fd = Libc.memfdSecret(0x1);
        assertThat(fd).isEqualTo(-1);
        assertThat(Libc.errno()).isIn(Errno.EINVAL, Errno.ENOSYS);
    }

    @Test
    void errnoValuesAreDescribedByName() {
        assertThat(Errno.describe(Errno.EAGAIN)).isEqualTo("EAGAIN (Resource temporarily unavailable)");
        assertThat(Errno.name(4242)).isEqualTo("errno 4242");
    }
}
