package dev.xpfo.host;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Which secret memory files some process on this host still holds, open or mapped: the only two ways
 * to hold one (it cannot be reopened by path). Read from {@code /proc/PID/fd} and {@code /proc/PID/maps};
 * a process this one may not inspect (another user's, without root) is counted, not seen. Files in
 * flight in a Unix socket's queue are held by no process and so not seen either.
 *
 * @param inodes     inode numbers of the secret memory files found
 * @param unreadable processes that could not be inspected
 */
public record SecretMemoryHolders(Set<Long> inodes, int unreadable) {
    private static final Path PROC = Path.of("/proc");

    /** Reads every process now. Costs a directory listing and a maps read per process. */
    public static SecretMemoryHolders scan() {
        Set<Long> inodes = new HashSet<>();
        int unreadable = 0;
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path process : processes) {
                if (!readProcess(process, inodes)) {
                    unreadable++;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return new SecretMemoryHolders(Set.copyOf(inodes), unreadable);
    }

    /** False if the process exists but may not be inspected; a process that exited is simply done. */
    private static boolean readProcess(Path process, Set<Long> inodes) {
        try {
            for (String line : Files.readAllLines(process.resolve("maps"))) {
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
                    } catch (IOException e) {
                        // closed meanwhile
                    }
                }
            }
            return true;
        } catch (AccessDeniedException e) {
            return false;
        } catch (IOException e) {
            return true; // exited while being read
        }
    }
}
