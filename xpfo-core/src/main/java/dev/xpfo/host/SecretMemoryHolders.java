package dev.xpfo.host;

import dev.xpfo.memory.XpfoFile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Which secret memory files some process on this host still holds, open or mapped: the only two ways
 * a process holds one (it cannot be reopened by path). Read from {@code /proc/PID/fd} and
 * {@code /proc/PID/maps}, which need the same user or {@code CAP_SYS_PTRACE}; the owners of processes
 * that could not be inspected are reported, so a caller can assume the worst of them. Descriptors
 * in flight in a Unix socket's queue or registered with io_uring belong to no process's table and are
 * not seen: a scan can show that a file is held, never that it is not.
 *
 * <p>A secret memory file is recognised exactly: the name the kernel gives every one,
 * {@value #NAME}, and the device number of the kernel's secret memory file system
 * ({@link #device()}). A file of another file system named like it (a tmpfs file {@code secretmem-1}
 * whose inode number happens to match) is not one.
 *
 * @param inodes         inode numbers of the secret memory files found
 * @param unreadableUids owners of the processes that could not be inspected
 */
public record SecretMemoryHolders(Set<Long> inodes, Set<Integer> unreadableUids) {
    private static final Path PROC = Path.of("/proc");
    /** The path {@code /proc} shows for every secret memory file, mapped or open. */
    public static final String NAME = "/secretmem (deleted)";

    /**
     * The device number ({@code st_dev}) of secret memory files on this kernel, read from a file made
     * for the purpose (every one shares the kernel's internal mount).
     *
     * @throws dev.xpfo.memory.SecretMemoryUnavailableException if this kernel cannot make secret memory
     */
    public static long device() {
        try (XpfoFile file = XpfoFile.open()) {
            return ((Number) Files.getAttribute(Path.of("/proc/self/fd/" + file.fd()), "unix:dev")).longValue();
        } catch (IOException e) {
            throw new IllegalStateException("cannot stat a secret memory file: " + e.getMessage(), e);
        }
    }

    /** Reads every process now. Costs a directory listing and a maps read per process. */
    public static SecretMemoryHolders scan() {
        return scan(device());
    }

    /**
     * Reads every process now, counting only files of device {@code device} ({@link #device()}) named
     * {@value #NAME}.
     */
    public static SecretMemoryHolders scan(long device) {
        Set<Long> inodes = new HashSet<>();
        Set<Integer> unreadable = new HashSet<>();
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path process : processes) {
                if (!readProcess(process, device, inodes)) {
                    try {
                        unreadable.add((Integer) Files.getAttribute(process, "unix:uid"));
                    } catch (IOException e) {
                        // exited meanwhile
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return new SecretMemoryHolders(Set.copyOf(inodes), Set.copyOf(unreadable));
    }

    /**
     * The same, not counting {@code uid}'s own processes among those that could not be inspected: a
     * service's own uid can read its processes but those that made themselves non-dumpable (agents
     * such as gpg-agent do), and a user needs no quota against itself on its own service.
     */
    public SecretMemoryHolders ignoringUid(int uid) {
        Set<Integer> others = new HashSet<>(unreadableUids);
        others.remove(uid);
        return new SecretMemoryHolders(inodes, Set.copyOf(others));
    }

    /**
     * Adds the inodes of the secret memory files mapped in {@code maps} (a {@code /proc/PID/maps}
     * text): lines whose path is exactly {@value #NAME} and whose device is {@code device}.
     */
    static void mapped(String maps, long device, Set<Long> inodes) {
        String wanted = Long.toHexString(major(device)) + ":" + Long.toHexString(minor(device));
        for (String line : maps.split("\n")) {
            // address perms offset dev inode path; the path keeps its spaces
            String[] fields = line.trim().split("\\s+", 6);
            if (fields.length == 6 && fields[5].equals(NAME) && sameDevice(fields[3], wanted)) {
                inodes.add(Long.parseLong(fields[4]));
            }
        }
    }

    /** {@code 00:0d} and {@code 0:d} are the same device: the kernel pads to two digits. */
    private static boolean sameDevice(String field, String wanted) {
        String[] parts = field.split(":");
        String[] expected = wanted.split(":");
        try {
            return parts.length == 2 && Long.parseLong(parts[0], 16) == Long.parseLong(expected[0], 16)
                    && Long.parseLong(parts[1], 16) == Long.parseLong(expected[1], 16);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The major number of a {@code dev_t} (glibc's {@code gnu_dev_major}). */
    static long major(long device) {
        return ((device >>> 8) & 0xfff) | ((device >>> 32) & 0xfffff000L);
    }

    /** The minor number of a {@code dev_t} (glibc's {@code gnu_dev_minor}). */
    static long minor(long device) {
        return (device & 0xff) | ((device >>> 12) & 0xffffff00L);
    }

    /** False if the process exists but could not be inspected; a process that exited is simply done. */
    private static boolean readProcess(Path process, long device, Set<Long> inodes) {
        try {
            // Bytes, not UTF-8: the kernel prints paths as they are, and one odd file name must not
            // make a process unreadable.
            mapped(Files.readString(process.resolve("maps"), StandardCharsets.ISO_8859_1), device, inodes);
            try (DirectoryStream<Path> fds = Files.newDirectoryStream(process.resolve("fd"))) {
                for (Path fd : fds) {
                    try {
                        // stat through the link: the open file's own device and inode.
                        if (Files.readSymbolicLink(fd).toString().equals(NAME)
                                && ((Number) Files.getAttribute(fd, "unix:dev")).longValue() == device) {
                            inodes.add(((Number) Files.getAttribute(fd, "unix:ino")).longValue());
                        }
                    } catch (NoSuchFileException e) {
                        // closed meanwhile
                    }
                }
            }
            return true;
        } catch (NoSuchFileException e) {
            return true; // exited
        } catch (AccessDeniedException e) {
            return false;
        } catch (IOException | RuntimeException e) {
            return !Files.exists(process); // still there but unreadable: assume the worst
        }
    }
}
