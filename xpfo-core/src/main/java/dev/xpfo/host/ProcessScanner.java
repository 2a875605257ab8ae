// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The one walk of {@code /proc}: which processes exist, and reading one of them with the same answer
 * everywhere when it exits meanwhile or may not be inspected.
 *
 * <p>A scan sees the processes of this PID namespace only, and only what was there while it read: a
 * process started after the listing, or a descriptor in flight in a socket's queue, is not seen.
 */
public final class ProcessScanner {
    private ProcessScanner() {
    }

    /** What reading one process gave. */
    public sealed interface Result<T> {
        /** The process was read. */
        record Read<T>(T value) implements Result<T> {
        }

        /** The process exited before or while it was read: it holds nothing any more. */
        record Exited<T>() implements Result<T> {
        }

        /**
         * The process exists but could not be read (permission denied, or a read that failed while it
         * still exists): a caller assumes the worst of it.
         *
         * @param reason what failed, for an operator
         */
        record Unreadable<T>(String reason) implements Result<T> {
        }
    }

    /** Reads what a caller needs of one process; may throw whatever {@link ProcessDirectory}'s reads throw. */
    @FunctionalInterface
    public interface Reader<T> {
        T read(ProcessDirectory process) throws IOException;
    }

    /**
     * Every process now, in pid order.
     *
     * @throws IllegalStateException if {@code /proc} cannot be listed
     */
    public static List<Long> pids() {
        List<Long> pids = new ArrayList<>();
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(ProcessDirectory.PROC, "[0-9]*")) {
            processes.forEach(p -> pids.add(Long.parseLong(p.getFileName().toString())));
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        pids.sort(null);
        return pids;
    }

    /**
     * Reads process {@code pid} with {@code reader}: {@link Result.Exited} if a file of it is gone
     * ({@code ENOENT}, or {@code ESRCH} on a link), {@link Result.Unreadable} if access is denied or
     * any other read fails while the process still exists.
     */
    public static <T> Result<T> read(long pid, Reader<T> reader) {
        ProcessDirectory process = new ProcessDirectory(pid);
        try {
            return new Result.Read<>(reader.read(process));
        } catch (NoSuchFileException e) {
            return new Result.Exited<>();
        } catch (AccessDeniedException e) {
            return new Result.Unreadable<>("permission denied reading " + e.getFile());
        } catch (IOException | RuntimeException e) {
            return process.exists() ? new Result.Unreadable<>(e.toString()) : new Result.Exited<>();
        }
    }
}
