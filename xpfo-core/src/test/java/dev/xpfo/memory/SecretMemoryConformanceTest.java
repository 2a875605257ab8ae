// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.linux.Architecture;
import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernel's {@code memfd_secret} selftest, ported to xpfo's API, and the further refusals xpfo's
 * protection rests on. Each refusal is paired with the same operation on ordinary memory succeeding,
 * so the test fails if the protection is missing rather than if the operation is merely broken.
 */
class SecretMemoryConformanceTest {
    private static final long PAGE = PageSize.BYTES;

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    // ---- the kernel selftest's cases ----

    @Test
    void underTheMemlockLimitMappingWorksAndTwiceTheHardLimitFailsWithTheRemedy() throws Exception {
        long limit = 4 * Bytes.MIB;
        TestJvm.Result result = TestJvm.runUnprivileged(limit, MemlockChild.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output())
                .contains("limit " + limit + " " + limit + " cap_ipc_lock false")
                .contains("at-limit mapped " + limit)
                .contains("twice-limit refused MemlockLimitException errno " + Errno.EAGAIN
                        + " requested " + 2 * limit + " limit " + limit)
                .contains("ulimit -l").contains("LimitMEMLOCK=").contains("CAP_IPC_LOCK")
                // the exact limit the refused mapping needed, in ulimit -l units, and how the hard limit is raised
                .contains("needed: a soft limit of at least 8192 KiB").contains("ulimit -l 8192 ")
                .contains("/etc/security/limits.conf").contains("LimitMEMLOCK=8192K")
                .contains("twice-limit populate refused MemlockLimitException");
    }

    @Test
    void theFileCannotBeReadOrWrittenThroughItsDescriptor() {
        try (XpfoFile file = XpfoFile.create(PAGE); Arena arena = Arena.ofConfined()) {
            file.populate();
            MemorySegment buffer = arena.allocate(PAGE);
            assertRefused(Libc.read(file.fd(), buffer, PAGE), Errno.EINVAL);
            assertRefused(Libc.write(file.fd(), buffer, PAGE), Errno.EINVAL);
            assertRefused(Libc.pread(file.fd(), buffer, PAGE, 0), Errno.ESPIPE);
            assertRefused(Libc.pwrite(file.fd(), buffer, PAGE, 0), Errno.ESPIPE);
        }
    }

    @Test
    void vmspliceOfAFreshOrAnExistingSecretPageFailsWithEfault() {
        try (XpfoFile file = XpfoFile.create(PAGE); Arena arena = Arena.ofConfined()) {
            MemorySegment pipe = arena.allocate(JAVA_INT, 2);
            assertThat(Libc.pipe2(pipe, Libc.O_CLOEXEC)).isZero();
            int writeEnd = pipe.get(JAVA_INT, 4);
            try {
                try (Mapping fresh = file.map()) {
                    fresh.segment().fill((byte) 1);
                    assertRefused(vmsplice(arena, writeEnd, fresh.segment()), Errno.EFAULT);
                }
                try (Mapping existing = file.map()) {
                    assertRefused(vmsplice(arena, writeEnd, existing.segment()), Errno.EFAULT);
                }
                try (Mapping control = Mapping.anonymous(PAGE)) {
                    control.segment().fill((byte) 1);
                    assertThat(vmsplice(arena, writeEnd, control.segment())).as("ordinary memory splices").isEqualTo(PAGE);
                }
            } finally {
                Libc.close(pipe.get(JAVA_INT, 0));
                Libc.close(writeEnd);
            }
        }
    }

    private static long vmsplice(Arena arena, int fd, MemorySegment memory) {
        MemorySegment iov = arena.allocate(Libc.IOVEC);
        iov.set(ADDRESS, 0, memory);
        iov.set(JAVA_LONG, 8, memory.byteSize());
        return Libc.vmsplice(fd, iov, 1, 0);
    }

    // Another process's process_vm_readv and a ptrace-attached PEEKDATA: see IsolationCheckTest,
    // which attacks this JVM from a separate process, with ordinary memory as the control.

    // ---- further refusals xpfo relies on ----

    @Test
    void privateMappingsAreRefused() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            long address = Libc.mmap(0, PAGE, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE, file.fd(), 0);
            assertThat(address).isEqualTo(Libc.MAP_FAILED);
            assertThat(Libc.errno()).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void secretMemoryCanNeverBeExecutable() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            long address = Libc.mmap(0, PAGE, Libc.PROT_READ | Libc.PROT_EXEC, Libc.MAP_SHARED, file.fd(), 0);
            assertThat(address).isEqualTo(Libc.MAP_FAILED);
            assertThat(Libc.errno()).isEqualTo(Errno.EPERM);
            try (Mapping mapping = file.map()) {
                int result = Libc.mprotect(mapping.segment().address(), PAGE, Libc.PROT_READ | Libc.PROT_EXEC);
                assertThat(result).isEqualTo(-1);
                assertThat(Libc.errno()).isEqualTo(Errno.EACCES);
            }
        }
    }

    @Test
    void theFileCannotBeReopenedThroughProcSelfFd() {
        try (XpfoFile file = XpfoFile.create(PAGE); Arena arena = Arena.ofConfined()) {
            int fd = Libc.open(arena.allocateFrom("/proc/self/fd/" + file.fd()), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            if (fd >= 0) {
                Libc.close(fd);
            }
            assertThat(fd).isEqualTo(-1);
            assertThat(Libc.errno()).isEqualTo(Errno.ENXIO);
        }
    }

    @Test
    void directIoIntoSecretMemoryIsRefusedWhileItWorksIntoOrdinaryMemory(@TempDir Path dir) throws Exception {
        // O_DIRECT support depends on the file system, so the control read picks one that has it.
        List<Path> candidates = List.of(Path.of(System.getProperty("user.dir"), "target"), dir, Path.of("/dev/shm"));
        try (XpfoFile file = XpfoFile.create(PAGE); Mapping secret = file.map();
             Mapping ordinary = Mapping.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            List<String> tried = new ArrayList<>();
            for (Path folder : candidates) {
                if (!Files.isDirectory(folder) || !Files.isWritable(folder)) {
                    continue;
                }
                Path data = Files.createTempFile(folder, "o_direct", ".bin");
                try {
                    Files.write(data, new byte[(int) PAGE]);
                    int fd = Libc.open(arena.allocateFrom(data.toString()), Libc.O_RDONLY | Architecture.current().oDirect() | Libc.O_CLOEXEC, 0);
                    if (fd < 0) {
                        tried.add(folder + ": open " + Errno.name(Libc.errno()));
                        continue;
                    }
                    try {
                        if (Libc.pread(fd, ordinary.segment(), PAGE, 0) != PAGE) {
                            tried.add(folder + ": control read " + Errno.name(Libc.errno()));
                            continue;
                        }
                        assertRefused(Libc.pread(fd, secret.segment(), PAGE, 0), Errno.EFAULT);
                        return;
                    } finally {
                        Libc.close(fd);
                    }
                } finally {
                    Files.deleteIfExists(data);
                }
            }
            assumeTrue(false, "skipped: no file system here takes O_DIRECT reads even into ordinary memory " + tried);
        }
    }

    @Test
    void fallocateIsNotSupportedSoPopulatingMeansTouching() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            assertThat(Libc.fallocate(file.fd(), 0, 0, PAGE)).isEqualTo(-1);
            assertThat(Libc.errno()).isEqualTo(Errno.EOPNOTSUPP);
        }
    }

    @Test
    void theKernelAllowsOnlyOneFtruncate() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            assertThat(Libc.ftruncate(file.fd(), 2 * PAGE)).isEqualTo(-1);
            assertThat(Libc.errno()).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void aDescriptorHandedToAnotherProcessOverAUnixSocketMapsTheSamePages(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("handoff.sock");
        long word = 0x5EC12E7C0FFEE001L;
        long reply = 0x0DDBA11CAFEF00DL;
        try (XpfoFile file = XpfoFile.create(4 * PAGE); UnixSocket listener = UnixSocket.listen(path)) {
            file.populate();
            try (Mapping mapping = file.map()) {
                mapping.segment().set(JAVA_LONG, 0, word);
                Process child = TestJvm.start(FdReceiverChild.class, path.toString(), Long.toHexString(reply));
                try (UnixSocket peer = listener.accept()) {
                    peer.send(new byte[] {'x', 'p', 'f', 'o'}, file.fd());
                    assertThat(peer.receive(1, 0).data()).containsExactly('k');
                }
                String output = Child.finish(child, Duration.ofSeconds(120)).output();
                assertThat(child.exitValue()).as(output).isZero();
                assertThat(output).contains("received 1 fd(s) with 'xpfo'")
                        .contains("size " + 4 * PAGE + " resident 4")
                        .contains("word " + Long.toHexString(word));
                assertThat(mapping.segment().get(JAVA_LONG, 8)).as("the other process wrote into the same pages")
                        .isEqualTo(reply);
            }
        }
    }

    @Test
    void populateAllocatesEveryPage() {
        try (XpfoFile file = XpfoFile.create(2 * Bytes.MIB); Mapping before = file.map()) {
            assertThat(before.residentPages()).isZero();
            file.populate(2, PopulateProgress.NONE);
            try (Mapping after = file.map()) {
                assertThat(after.residentPages()).isEqualTo(2 * Bytes.MIB / PAGE);
            }
        }
    }

    private static void assertRefused(long result, int errno) {
        int actual = Libc.errno();
        assertThat(result).as("the call should fail").isEqualTo(-1);
        assertThat(Errno.name(actual)).isEqualTo(Errno.name(errno));
    }
}
