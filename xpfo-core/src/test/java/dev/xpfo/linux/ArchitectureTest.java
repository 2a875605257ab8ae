package dev.xpfo.linux;

import dev.xpfo.memory.UnsupportedArchitectureException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
