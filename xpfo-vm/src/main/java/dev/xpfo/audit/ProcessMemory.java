package dev.xpfo.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A process's memory as {@code /proc} shows it: its mappings and the secret memory files it holds
 * (mapped or only open). Reading another user's process needs root or CAP_SYS_PTRACE.
 *
 * @param pid         the process
 * @param uid         its real owner ({@code Uid:} in {@code /proc/PID/status})
 * @param executable  the file name of its executable ({@code qemu-system-x86_64})
 * @param commandLine its arguments
 * @param regions     its mappings, in address order
 * @param secretFiles each secret memory file it holds, inode to bytes (a file's size if open, else
 *                    the most of it mapped)
 */
public record ProcessMemory(long pid, int uid, String executable, List<String> commandLine, List<Region> regions,
                            Map<Long, Long> secretFiles) {
    private static final Path PROC = Path.of("/proc");

    /** Why a process could not be read. */
    public static final class UnreadableException extends Exception {
        UnreadableException(String message) {
            super(message);
        }
    }

    /**
     * Reads process {@code pid}.
     *
     * @return empty if it has exited
     * @throws UnreadableException if this process may not inspect it
     */
    public static Optional<ProcessMemory> read(long pid) throws UnreadableException {
        Path process = PROC.resolve(Long.toString(pid));
        try {
            int uid = HostAudit.realUid(pid);
            if (uid < 0) {
                return Optional.empty();
            }
            List<String> arguments = Arrays.asList(new String(Files.readAllBytes(process.resolve("cmdline")),
                    StandardCharsets.ISO_8859_1).split("\0"));
            List<Region> regions = new ArrayList<>();
            Map<Long, Long> secret = new HashMap<>();
            // Bytes, not UTF-8: the kernel prints paths as they are.
            for (String line : Files.readString(process.resolve("maps"), StandardCharsets.ISO_8859_1).split("\n")) {
                if (!line.isBlank()) {
                    Region region = Region.parse(line);
                    regions.add(region);
                    if (region.kind() == Region.Kind.SECRET_MEMORY) {
                        secret.merge(region.inode(), region.bytes(), Math::max);
                    }
                }
            }
            try (DirectoryStream<Path> fds = Files.newDirectoryStream(process.resolve("fd"))) {
                for (Path fd : fds) {
                    try {
                        if (Files.readSymbolicLink(fd).toString().startsWith("/secretmem")) {
                            long inode = ((Number) Files.getAttribute(fd, "unix:ino")).longValue();
                            secret.merge(inode, Files.size(fd), Math::max);
                        }
                    } catch (NoSuchFileException e) {
                        // closed meanwhile
                    }
                }
            }
            return Optional.of(new ProcessMemory(pid, uid, executable(process, arguments), List.copyOf(arguments),
                    List.copyOf(regions), Map.copyOf(secret)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (AccessDeniedException e) {
            throw new UnreadableException("permission denied reading " + e.getFile());
        } catch (IOException e) {
            if (!Files.exists(process)) {
                return Optional.empty();
            }
            throw new UnreadableException(e.toString());
        }
    }

    private static String executable(Path process, List<String> arguments) throws IOException {
        try {
            String target = Files.readSymbolicLink(process.resolve("exe")).toString();
            if (target.endsWith(" (deleted)")) {
                target = target.substring(0, target.length() - " (deleted)".length());
            }
            return target.substring(target.lastIndexOf('/') + 1);
        } catch (AccessDeniedException | NoSuchFileException e) {
            // Kernel threads have no executable; unreadable ones fall back to what they say they are.
            String first = arguments.isEmpty() ? "" : arguments.getFirst();
            return first.isEmpty() ? Files.readString(process.resolve("comm")).trim() : first.substring(first.lastIndexOf('/') + 1);
        }
    }

    /** Bytes of secret memory mapped into this process. */
    public long secretMappedBytes() {
        return regions.stream().filter(r -> r.kind() == Region.Kind.SECRET_MEMORY).mapToLong(Region::bytes).sum();
    }

    /** Bytes of secret memory this process holds, each file once, mapped or not. */
    public long secretHeldBytes() {
        return secretFiles.values().stream().mapToLong(Long::longValue).sum();
    }
}
