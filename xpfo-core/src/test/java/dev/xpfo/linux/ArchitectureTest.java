// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import dev.xpfo.memory.UnsupportedArchitectureException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The per-architecture numbers: the running machine's table is chosen, the arm64 table holds what
 * the kernel's uapi headers give, and any other architecture is refused instead of called with wrong
 * numbers.
 */
class ArchitectureTest {
    /** ELF {@code e_machine} values ({@code include/uapi/linux/elf-em.h}). */
    private static final int EM_X86_64 = 62;
    private static final int EM_AARCH64 = 183;

    @Test
    void theTableOfTheMachineThisRunsOnIsChosen() throws IOException {
        // The machine as the ELF header of the running JVM's own executable says, not as os.arch does.
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(Path.of("/proc/self/exe")), 0, 20)
                .order(ByteOrder.LITTLE_ENDIAN);
        int machine = header.getShort(18) & 0xffff;
        Architecture expected = switch (machine) {
            case EM_X86_64 -> Architecture.X86_64;
            case EM_AARCH64 -> Architecture.ARM64;
            default -> throw new AssertionError("this test runs on x86-64 or arm64, not e_machine " + machine);
        };
        assertThat(Architecture.current()).isEqualTo(expected);
        assertThat(Architecture.of(System.getProperty("os.arch"))).isSameAs(Architecture.current());
    }

    @Test
    void theChosenSyscallNumbersAreTheKernels() throws IOException {
        // gettid: the kernel names the calling thread in /proc/thread-self -> "PID/task/TID".
        String threadSelf = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
        assertThat(Libc.gettid()).isEqualTo(Integer.parseInt(threadSelf.substring(threadSelf.lastIndexOf('/') + 1)));
        // geteuid: the effective uid the kernel reports in /proc/self/status ("Uid: real effective ...").
        String uids = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(line -> line.startsWith("Uid:")).findFirst().orElseThrow();
        assertThat(Libc.geteuid()).isEqualTo(Integer.parseInt(uids.split("\\s+")[2]));
    }

    @Test
    void theChosenStatLayoutIsTheOneFstatFills() throws IOException {
        Path file = Files.createTempFile("xpfo-stat", ".bin");
        try (Arena arena = Arena.ofConfined()) {
            Files.write(file, new byte[12345]);
            int fd = Libc.open(arena.allocateFrom(file.toString()), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            assertThat(fd).isNotNegative();
            Architecture architecture = Architecture.current();
            MemorySegment stat = arena.allocate(architecture.stat());
            try {
                assertThat(Libc.fstat(fd, stat)).isZero();
            } finally {
                Libc.close(fd);
            }
            assertThat(stat.get(JAVA_LONG, architecture.statOffset("st_size"))).isEqualTo(12345L);
            assertThat(stat.get(JAVA_LONG, architecture.statOffset("st_ino"))).isEqualTo(Files.getAttribute(file, "unix:ino"));
            assertThat(stat.get(JAVA_INT, architecture.statOffset("st_mode"))).isEqualTo(Files.getAttribute(file, "unix:mode"));
            assertThat(stat.get(JAVA_INT, architecture.statOffset("st_uid"))).isEqualTo(Files.getAttribute(file, "unix:uid"));
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void theArm64TableHoldsTheAsmGenericNumbers() {
        Architecture arm64 = Architecture.of("aarch64");
        assertThat(arm64).isSameAs(Architecture.ARM64);
        // include/uapi/asm-generic/unistd.h
        assertThat(arm64.syscalls().gettid()).isEqualTo(178);
        assertThat(arm64.syscalls().geteuid()).isEqualTo(175);
        assertThat(arm64.syscalls().memfdSecret()).isEqualTo(447);
        // arch/arm64/include/uapi/asm/fcntl.h: O_DIRECT 0200000 (040000 is arm64's O_DIRECTORY)
        assertThat(arm64.oDirect()).isEqualTo(0200000);
        // include/uapi/asm-generic/stat.h: 128 bytes, st_mode right after st_ino
        assertThat(arm64.stat().byteSize()).isEqualTo(128);
        assertThat(arm64.statOffset("st_ino")).isEqualTo(8);
        assertThat(arm64.statOffset("st_mode")).isEqualTo(16);
        assertThat(arm64.statOffset("st_uid")).isEqualTo(24);
        assertThat(arm64.statOffset("st_size")).isEqualTo(48);
    }

    @Test
    void theX86TableHoldsItsOwnNumbers() {
        Architecture x86 = Architecture.of("amd64");
        assertThat(Architecture.of("x86_64")).isSameAs(x86).isSameAs(Architecture.X86_64);
        // arch/x86/entry/syscalls/syscall_64.tbl
        assertThat(x86.syscalls().gettid()).isEqualTo(186);
        assertThat(x86.syscalls().geteuid()).isEqualTo(107);
        assertThat(x86.syscalls().memfdSecret()).isEqualTo(447);
        assertThat(x86.oDirect()).isEqualTo(040000);
        // arch/x86/include/uapi/asm/stat.h: 144 bytes, st_nlink before st_mode
        assertThat(x86.stat().byteSize()).isEqualTo(144);
        assertThat(x86.statOffset("st_mode")).isEqualTo(24);
        assertThat(x86.statOffset("st_size")).isEqualTo(48);
    }

    @Test
    void anyOtherArchitectureIsRefusedByName() {
        for (String other : new String[] {"riscv64", "ppc64le", "s390x", "arm", "x86"}) {
            assertThatThrownBy(() -> Architecture.of(other))
                    .isInstanceOfSatisfying(UnsupportedArchitectureException.class,
                            e -> assertThat(e.architecture()).isEqualTo(other))
                    .hasMessageContaining("does not support the " + other + " architecture")
                    .hasMessageContaining("x86-64 (os.arch amd64 or x86_64)")
                    .hasMessageContaining("arm64 (os.arch aarch64 or arm64)");
        }
    }

    /**
     * The numbers of the running machine, as its C headers define them: what a C program built here
     * would use. On an arm64 machine this checks the arm64 table and the shared constants there.
     */
    @Test
    void theChosenTableAndTheSharedConstantsAreTheCHeadersOfThisMachine(@TempDir Path dir) throws Exception {
        Path source = dir.resolve("abi.c");
        Files.writeString(source, """
                #define _GNU_SOURCE
                #include <fcntl.h>
                #include <stddef.h>
                #include <stdio.h>
                #include <sys/mman.h>
                #include <sys/resource.h>
                #include <sys/socket.h>
                #include <sys/stat.h>
                #include <sys/syscall.h>
                #include <sys/uio.h>
                #include <sys/un.h>
                #include <unistd.h>
                #define SHOW(name, value) printf("%s %ld\\n", name, (long) (value))
                int main(void) {
                    SHOW("SYS_gettid", SYS_gettid);
                    SHOW("SYS_pidfd_open", SYS_pidfd_open);
                    SHOW("SYS_geteuid", SYS_geteuid);
                    SHOW("O_DIRECT", O_DIRECT);
                    SHOW("O_CREAT", O_CREAT);
                    SHOW("O_TRUNC", O_TRUNC);
                    SHOW("O_CLOEXEC", O_CLOEXEC);
                    SHOW("MAP_NORESERVE", MAP_NORESERVE);
                    SHOW("MAP_POPULATE", MAP_POPULATE);
                    SHOW("MAP_ANONYMOUS", MAP_ANONYMOUS);
                    SHOW("MADV_DONTFORK", MADV_DONTFORK);
                    SHOW("RLIMIT_MEMLOCK", RLIMIT_MEMLOCK);
                    SHOW("RLIMIT_NOFILE", RLIMIT_NOFILE);
                    SHOW("SOL_SOCKET", SOL_SOCKET);
                    SHOW("SO_PEERCRED", SO_PEERCRED);
                    SHOW("SO_RCVTIMEO", SO_RCVTIMEO);
                    SHOW("SO_SNDTIMEO", SO_SNDTIMEO);
                    SHOW("MSG_NOSIGNAL", MSG_NOSIGNAL);
                    SHOW("MSG_CMSG_CLOEXEC", MSG_CMSG_CLOEXEC);
                    SHOW("SOCK_CLOEXEC", SOCK_CLOEXEC);
                    SHOW("_SC_PAGESIZE", _SC_PAGESIZE);
                    SHOW("stat", sizeof(struct stat));
                    SHOW("st_ino", offsetof(struct stat, st_ino));
                    SHOW("st_mode", offsetof(struct stat, st_mode));
                    SHOW("st_uid", offsetof(struct stat, st_uid));
                    SHOW("st_size", offsetof(struct stat, st_size));
                    SHOW("msghdr", sizeof(struct msghdr));
                    SHOW("msg_control", offsetof(struct msghdr, msg_control));
                    SHOW("msg_flags", offsetof(struct msghdr, msg_flags));
                    SHOW("CMSG_LEN0", CMSG_LEN(0));
                    SHOW("ucred", sizeof(struct ucred));
                    SHOW("sockaddr_un", sizeof(struct sockaddr_un));
                    SHOW("iovec", sizeof(struct iovec));
                    return 0;
                }
                """);
        Path binary = dir.resolve("abi");
        Path output = dir.resolve("out.txt");
        // A machine without a C compiler cannot answer; xpfo's build machines (./xpfo bench) have one.
        assumeTrue(run(dir, output, "cc", "--version") == 0, "skipped: no C compiler");
        assertThat(run(dir, output, "cc", "-o", binary.toString(), source.toString()))
                .as("cc: %s", Files.readString(output)).isZero();
        assertThat(run(dir, output, binary.toString())).isZero();
        Map<String, Long> c = new HashMap<>();
        for (String line : Files.readAllLines(output)) {
            String[] parts = line.split(" ");
            c.put(parts[0], Long.parseLong(parts[1]));
        }
        Architecture architecture = Architecture.current();
        assertThat(architecture.syscalls().gettid()).isEqualTo(c.get("SYS_gettid"));
        assertThat(architecture.syscalls().geteuid()).isEqualTo(c.get("SYS_geteuid"));
        assertThat(architecture.syscalls().pidfdOpen()).isEqualTo(c.get("SYS_pidfd_open"));
        assertThat((long) architecture.oDirect()).isEqualTo(c.get("O_DIRECT"));
        assertThat(architecture.stat().byteSize()).isEqualTo(c.get("stat"));
        for (String field : new String[] {"st_ino", "st_mode", "st_uid", "st_size"}) {
            assertThat(architecture.statOffset(field)).as(field).isEqualTo(c.get(field));
        }
        assertThat((long) Libc.O_CREAT).isEqualTo(c.get("O_CREAT"));
        assertThat((long) Libc.O_TRUNC).isEqualTo(c.get("O_TRUNC"));
        assertThat((long) Libc.O_CLOEXEC).isEqualTo(c.get("O_CLOEXEC"));
        assertThat((long) Libc.MAP_NORESERVE).isEqualTo(c.get("MAP_NORESERVE"));
        assertThat((long) Libc.MAP_POPULATE).isEqualTo(c.get("MAP_POPULATE"));
        assertThat((long) Libc.MAP_ANONYMOUS).isEqualTo(c.get("MAP_ANONYMOUS"));
        assertThat((long) Libc.MADV_DONTFORK).isEqualTo(c.get("MADV_DONTFORK"));
        assertThat((long) Libc.RLIMIT_MEMLOCK).isEqualTo(c.get("RLIMIT_MEMLOCK"));
        assertThat((long) Libc.RLIMIT_NOFILE).isEqualTo(c.get("RLIMIT_NOFILE"));
        assertThat((long) Libc.SOL_SOCKET).isEqualTo(c.get("SOL_SOCKET"));
        assertThat((long) Libc.SO_PEERCRED).isEqualTo(c.get("SO_PEERCRED"));
        assertThat((long) Libc.SO_RCVTIMEO).isEqualTo(c.get("SO_RCVTIMEO"));
        assertThat((long) Libc.SO_SNDTIMEO).isEqualTo(c.get("SO_SNDTIMEO"));
        assertThat((long) Libc.MSG_NOSIGNAL).isEqualTo(c.get("MSG_NOSIGNAL"));
        assertThat((long) Libc.MSG_CMSG_CLOEXEC).isEqualTo(c.get("MSG_CMSG_CLOEXEC"));
        assertThat((long) Libc.SOCK_CLOEXEC).isEqualTo(c.get("SOCK_CLOEXEC"));
        assertThat((long) Libc.SC_PAGESIZE).isEqualTo(c.get("_SC_PAGESIZE"));
        assertThat(Libc.MSGHDR.byteSize()).isEqualTo(c.get("msghdr"));
        assertThat(Libc.MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_control"))).isEqualTo(c.get("msg_control"));
        assertThat(Libc.MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_flags"))).isEqualTo(c.get("msg_flags"));
        assertThat(Libc.CMSG_HEADER).isEqualTo(c.get("CMSG_LEN0"));
        assertThat(12L).as("struct ucred { pid, uid, gid } as UnixSocket reads it").isEqualTo(c.get("ucred"));
        assertThat(Libc.SOCKADDR_UN_SIZE).isEqualTo(c.get("sockaddr_un"));
        assertThat(Libc.IOVEC.byteSize()).isEqualTo(c.get("iovec"));
    }

    private static int run(Path dir, Path output, String... command) throws Exception {
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile()).start();
        if (!process.waitFor(2, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish");
        }
        return process.exitValue();
    }
}
