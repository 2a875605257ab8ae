// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeErrors;
import dev.xpfo.memory.SecretMemoryUnavailableException;
import dev.xpfo.memory.XpfoFile;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What tells a secret memory file ({@code memfd_secret(2)}) from every other file, in a process's
 * mappings and among its descriptors: the one predicate every reader of {@code /proc} uses.
 *
 * <p>A secret memory file is recognised exactly, by two facts the kernel reports: the path it shows
 * for every one, {@value #NAME}, and the device number of the kernel's internal secret memory mount,
 * read from a secret memory file of this process's own ({@link #device()}). A file named like one on
 * another file system (a deleted tmpfs file of that name, a file {@code secretmem-1} in the root directory) is not
 * one, nor is a file of that mount under another name.
 */
public final class SecretMemoryFiles {
    /** The path {@code /proc} shows for every secret memory file, mapped or open (it is never linked anywhere). */
    public static final String NAME = "/secretmem (deleted)";

    private static volatile DeviceNumber kernelDevice;

    private SecretMemoryFiles() {
    }

    /**
     * The device number of secret memory files on this kernel (every one is on the kernel's one
     * internal mount), read once from a file made for the purpose.
     *
     * @throws SecretMemoryUnavailableException if this kernel cannot make secret memory
     * @throws IllegalStateException            if the file made cannot be stat'ed
     */
    public static DeviceNumber device() {
        DeviceNumber known = kernelDevice;
        if (known == null) {
            try (XpfoFile probe = XpfoFile.open()) {
                known = OpenFile.of(Path.of("/proc/self/fd/" + probe.fd())).device();
            } catch (IOException e) {
                throw new IllegalStateException("cannot stat a secret memory file: " + e.getMessage(), e);
            }
            kernelDevice = known;
        }
        return known;
    }

    /** {@link #device()}, or empty if this kernel cannot make secret memory (then no file is secret memory). */
    public static Optional<DeviceNumber> deviceIfAvailable() {
        try {
            return Optional.of(device());
        } catch (SecretMemoryUnavailableException e) {
            return Optional.empty();
        }
    }

    /** True if {@code mapping} is of a secret memory file whose device is {@code device}: exactly {@value #NAME} on it. */
    public static boolean isSecretMemory(MapsEntry mapping, DeviceNumber device) {
        return mapping.path().equals(NAME) && mapping.device().equals(device);
    }

    /** True if {@code mapping} is of a secret memory file of this kernel; never on a kernel without secret memory. */
    public static boolean isSecretMemory(MapsEntry mapping) {
        return deviceIfAvailable().map(device -> isSecretMemory(mapping, device)).orElse(false);
    }

    /**
     * True if this process's own descriptor {@code fd} is a secret memory file, by the file system the
     * kernel reports for it ({@code fstatfs}: {@code SECRETMEM_MAGIC}). Needs no secret memory file of
     * this process's own, so a process whose seccomp filter refuses {@code memfd_secret} can still tell
     * what it was handed.
     *
     * @throws dev.xpfo.memory.NativeCallException if {@code fstatfs} fails ({@code EBADF}: not open)
     */
    public static boolean isSecretMemory(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment statfs = arena.allocate(Libc.STATFS_BYTES, 8);
            if (Libc.fstatfs(fd, statfs) != 0) {
                throw NativeErrors.call("fstatfs", Libc.errno(), "could not tell what descriptor " + fd + " is");
            }
            return statfs.get(ValueLayout.JAVA_LONG, Libc.STATFS_F_TYPE) == Libc.SECRETMEM_MAGIC;
        }
    }

    /** True if the open file {@code file} is a secret memory file whose device is {@code device}. */
    public static boolean isSecretMemory(OpenFile file, DeviceNumber device) {
        return isNamedLikeSecretMemory(file.target()) && file.device().equals(device);
    }

    /** True if the open file {@code file} is a secret memory file of this kernel; never on a kernel without secret memory. */
    public static boolean isSecretMemory(OpenFile file) {
        return deviceIfAvailable().map(device -> isSecretMemory(file, device)).orElse(false);
    }

    /**
     * True if {@code path} is the name of a secret memory file: necessary, not sufficient (the device
     * decides); lets a scan skip the {@code stat} of every other descriptor.
     */
    public static boolean isNamedLikeSecretMemory(String path) {
        return path.equals(NAME);
    }
}
