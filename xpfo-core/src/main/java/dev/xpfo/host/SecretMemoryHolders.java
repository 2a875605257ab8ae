package dev.xpfo.host;

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
 * in flight in a Unix socket's queue belong to no process and are not seen.
 *
 * @param inodes         inode numbers of the secret memory files found
 * @param unreadableUids owners of the processes that could not be inspected
 */
public record SecretMemoryHolders(Set<Long> inodes, Set<Integer> unreadableUids) {
    private static final Path PROC = Path.of("/proc");

    /** Reads every process now. Costs a directory listing and a maps read per process. */
    public static SecretMemoryHolders scan() {
        Set<Long> inodes = new HashSet<>();
        Set<Integer> unreadable = new HashSet<>();
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path process : processes) {
                if (!readProcess(process, inodes)) {
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

    /** False if the process exists but could not be inspected; a process that exited is simply done. */
    private static boolean readProcess(Path process, Set<Long> inodes) {
        try {
            // Bytes, not UTF-8: the kernel prints paths as they are, and one odd file name must not
            // make a process unreadable.
            for (String line : Files.readString(process.resolve("maps"), StandardCharsets.ISO_8859_1).split("\n")) {
                if (line.contains("/secretmem")) {
                    // address perms offset dev inode path
                    String[] fields = line.trim().split("\\s+", 6);
                    inodes.add(Long.parseLong(fields[4]));
                }
            }
            try (DirectoryStream<Path> fds = Files.newDirectoryStream(process.resolve("fd"))) {
                for (Path fd : fds) {
                    try {
                        if (Files.readSymbolicLink(fd).toString().startsWith("/secretmem")) {
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
