// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.linux;

import dev.xpfo.memory.UnsupportedArchitectureException;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The numbers of the Linux ABI that differ between the processor architectures xpfo supports: system
 * call numbers, open flags and {@code struct stat}. Everything else {@link Libc} uses (mmap and madvise
 * values, socket options, {@code struct msghdr}, {@code cmsghdr}, {@code ucred}, {@code iovec},
 * {@code rlimit}, {@code sockaddr_un}, ptrace and prctl requests, KVM's {@code _IO} ioctls) is the same
 * on both, as the kernel's uapi headers give it: x86-64's own {@code asm/} headers, and
 * {@code asm-generic/} for arm64 (plus its {@code asm/fcntl.h}).
 *
 * <p>The table is chosen once, from {@code os.arch}. On any other architecture {@link #current()}
 * throws {@link UnsupportedArchitectureException} at first use: a call with another architecture's
 * numbers would silently run a different system call ({@code syscall(186)} is {@code gettid} on x86-64
 * and {@code msgget} on arm64).
 */
public enum Architecture {
    /** x86-64: {@code arch/x86/entry/syscalls/syscall_64.tbl}, {@code arch/x86/include/uapi/asm/stat.h}. */
    X86_64("x86-64", List.of("amd64", "x86_64"),
            new SyscallNumbers(447, 186, 107, 434),
            0x4000,
            MemoryLayout.structLayout(
                    JAVA_LONG.withName("st_dev"),
                    JAVA_LONG.withName("st_ino"),
                    JAVA_LONG.withName("st_nlink"),
                    JAVA_INT.withName("st_mode"),
                    JAVA_INT.withName("st_uid"),
                    JAVA_INT.withName("st_gid"),
                    MemoryLayout.paddingLayout(4),
                    JAVA_LONG.withName("st_rdev"),
                    JAVA_LONG.withName("st_size"),
                    JAVA_LONG.withName("st_blksize"),
                    JAVA_LONG.withName("st_blocks"),
                    MemoryLayout.sequenceLayout(6, JAVA_LONG).withName("st_times"),
                    MemoryLayout.paddingLayout(24)).withName("stat")),
    /**
     * arm64: {@code include/uapi/asm-generic/unistd.h}, {@code asm-generic/stat.h}, and
     * {@code arch/arm64/include/uapi/asm/fcntl.h}, whose {@code O_DIRECT} is {@code 0200000} (x86-64's
     * {@code 040000} is arm64's {@code O_DIRECTORY}).
     */
    ARM64("arm64", List.of("aarch64", "arm64"),
            new SyscallNumbers(447, 178, 175, 434),
            0x10000,
            MemoryLayout.structLayout(
                    JAVA_LONG.withName("st_dev"),
                    JAVA_LONG.withName("st_ino"),
                    JAVA_INT.withName("st_mode"),
                    JAVA_INT.withName("st_nlink"),
                    JAVA_INT.withName("st_uid"),
                    JAVA_INT.withName("st_gid"),
                    JAVA_LONG.withName("st_rdev"),
                    MemoryLayout.paddingLayout(8),
                    JAVA_LONG.withName("st_size"),
                    JAVA_INT.withName("st_blksize"),
                    MemoryLayout.paddingLayout(4),
                    JAVA_LONG.withName("st_blocks"),
                    MemoryLayout.sequenceLayout(6, JAVA_LONG).withName("st_times"),
                    MemoryLayout.paddingLayout(8)).withName("stat"));

    /** The system calls xpfo makes through {@code syscall(2)} rather than a C library function. */
    public record SyscallNumbers(long memfdSecret, long gettid, long geteuid, long pidfdOpen) {
    }

    private static final String RUNNING = System.getProperty("os.arch");
    private static final Optional<Architecture> CURRENT = lookup(RUNNING);

    private final String displayName;
    private final List<String> osArchNames;
    private final SyscallNumbers syscalls;
    private final int oDirect;
    private final StructLayout stat;

    Architecture(String displayName, List<String> osArchNames, SyscallNumbers syscalls, int oDirect, StructLayout stat) {
        this.displayName = displayName;
        this.osArchNames = osArchNames;
        this.syscalls = syscalls;
        this.oDirect = oDirect;
        this.stat = stat;
    }

    /**
     * The architecture this JVM runs on.
     *
     * @throws UnsupportedArchitectureException on anything but x86-64 and arm64
     */
    public static Architecture current() {
        return CURRENT.orElseThrow(() -> refusal(RUNNING));
    }

    /**
     * The architecture the JVM calls {@code osArch} ({@code os.arch}: {@code amd64}, {@code aarch64}).
     *
     * @throws UnsupportedArchitectureException for any other name
     */
    public static Architecture of(String osArch) {
        return lookup(osArch).orElseThrow(() -> refusal(osArch));
    }

    private static Optional<Architecture> lookup(String osArch) {
        return Arrays.stream(values()).filter(a -> a.osArchNames.contains(osArch)).findFirst();
    }

    private static UnsupportedArchitectureException refusal(String osArch) {
        return new UnsupportedArchitectureException(osArch, Arrays.stream(values())
                .map(a -> a.displayName + " (os.arch " + String.join(" or ", a.osArchNames) + ")").toList());
    }

    public SyscallNumbers syscalls() {
        return syscalls;
    }

    /** {@code O_DIRECT}. */
    public int oDirect() {
        return oDirect;
    }

    /** {@code struct stat} as {@code fstat(2)} fills it; fields by their C names ({@code st_ino}, ...). */
    public StructLayout stat() {
        return stat;
    }

    /** The byte offset of the {@code struct stat} field called {@code name}, such as {@code "st_size"}. */
    public long statOffset(String name) {
        return stat.byteOffset(groupElement(name));
    }

    @Override
    public String toString() {
        return displayName;
    }
}
