// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;

/**
 * One process's directory in {@code /proc}, read as {@link ProcessScanner} walks them. Everything is
 * read as bytes (ISO-8859-1), never decoded as UTF-8: the kernel prints names and paths as they are,
 * and a process must not make itself unreadable, or look exited, by naming itself or a file oddly.
 *
 * <p>Each read throws {@link NoSuchFileException} once the process has exited and
 * {@link AccessDeniedException} where this process may not inspect it: its maps, descriptors and
 * executable need the same user or {@code CAP_SYS_PTRACE} (and a non-dumpable process's are root's);
 * its status and command line anyone may read.
 *
 * @param pid the process
 */
public record ProcessDirectory(long pid) {
    static final Path PROC = Path.of("/proc");
    private static final String DELETED = " (deleted)";

    /** {@code /proc/PID}. */
    public Path path() {
        return PROC.resolve(Long.toString(pid));
    }

    /** Its mappings, from {@code /proc/PID/maps}, in address order. */
    public List<MapsEntry> maps() throws IOException {
        return MapsEntry.parseAll(text("maps"));
    }

    /** Its mappings with their {@code VmFlags}, from {@code /proc/PID/smaps}, in address order. */
    public List<MapsEntry> smaps() throws IOException {
        return MapsEntry.parseAll(text("smaps"));
    }

    /**
     * The files it holds open whose descriptor's link target passes {@code target} (only those are
     * {@code stat}'ed). A descriptor closed while they are read is skipped.
     */
    public List<OpenFile> openFiles(Predicate<String> target) throws IOException {
        List<OpenFile> files = new ArrayList<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(path().resolve("fd"))) {
            for (Path fd : fds) {
                try {
                    if (target.test(Files.readSymbolicLink(fd).toString())) {
                        files.add(OpenFile.of(fd));
                    }
                } catch (NoSuchFileException e) {
                    // closed meanwhile
                }
            }
        }
        return files;
    }

    /** The secret memory files of device {@code device} it holds open ({@link SecretMemoryFiles}). */
    public List<OpenFile> secretMemoryFiles(DeviceNumber device) throws IOException {
        return openFiles(SecretMemoryFiles::isNamedLikeSecretMemory).stream()
                .filter(file -> SecretMemoryFiles.isSecretMemory(file, device)).toList();
    }

    /** Its arguments, from {@code /proc/PID/cmdline}; a single empty one for a kernel thread. */
    public List<String> commandLine() throws IOException {
        return Arrays.asList(text("cmdline").split("\0"));
    }

    /**
     * The file name of its executable ({@code qemu-system-x86_64}); for a kernel thread, or one whose
     * executable this process may not see, what its command line or {@code comm} says it is.
     */
    public String executable() throws IOException {
        try {
            String target = Files.readSymbolicLink(path().resolve("exe")).toString();
            if (target.endsWith(DELETED)) {
                target = target.substring(0, target.length() - DELETED.length());
            }
            return target.substring(target.lastIndexOf('/') + 1);
        } catch (AccessDeniedException | NoSuchFileException e) {
            List<String> arguments = commandLine();
            String first = arguments.isEmpty() ? "" : arguments.getFirst();
            return first.isEmpty() ? text("comm").trim() : first.substring(first.lastIndexOf('/') + 1);
        }
    }

    /** Its real uid, from {@code Uid:} in {@code /proc/PID/status} (the directory's owner is root for a non-dumpable process). */
    public int realUid() throws IOException {
        String uids = ProcFiles.field(text("status"), "Uid")
                .orElseThrow(() -> new IOException(path().resolve("status") + " has no Uid line"));
        return Integer.parseInt(uids.split("\\s+")[0]);
    }

    /** The owner of {@code /proc/PID}: its effective uid, or root's for a non-dumpable process. */
    public int ownerUid() throws IOException {
        return (Integer) Files.getAttribute(path(), "unix:uid");
    }

    /** Its {@code comm} (the name in {@code ps}), empty if it has exited. */
    public String name() {
        return ProcFiles.read(path().resolve("comm")).trim();
    }

    /** Its threads' ids; just its own if they cannot be listed (exited meanwhile, or unreadable). */
    public List<Long> threads() {
        List<Long> threads = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(path().resolve("task"))) {
            tasks.forEach(t -> threads.add(Long.parseLong(t.getFileName().toString())));
        } catch (IOException e) {
            threads.add(pid);
        }
        return threads;
    }

    /** True while {@code /proc/PID} exists. */
    public boolean exists() {
        return Files.exists(path());
    }

    private String text(String file) throws IOException {
        return Files.readString(path().resolve(file), StandardCharsets.ISO_8859_1);
    }
}
