// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Searches another process's readable memory for byte strings, the way a memory scraper with the
 * rights of its owner (or root) would: every mapping {@code /proc/PID/maps} lists as readable is read
 * through {@code /proc/PID/mem}. The one reader of another process's whole memory: {@code xpfo check}'s
 * scan ({@link ReadAttempts}) and the tests that look for a server's keys both use it.
 *
 * <p>A mapping the kernel refuses to read is never skipped silently: it is reported with the kernel's
 * errno (secret memory answers {@code EIO}), so a caller can tell "not found" from "not read". Only
 * {@code [vvar*]} and {@code [vsyscall]} are left out, as {@code xpfo check} always did: the kernel's
 * own pages, which hold no data of the process. Mappings are read in 1 MiB chunks that overlap by the
 * longest needle less one byte, so a needle across a chunk boundary is found, once; the overlap is
 * carried on into a mapping that starts where the one read before it ended (the kernel splits one
 * region into several mappings when part of it changes protection), so a needle across two adjacent
 * mappings is found too.
 *
 * <p>A search that did not read everything it meant to cannot say "not found": one stopped by its byte
 * limit (a process can map terabytes readable) is {@linkplain Result#complete() incomplete}, and
 * {@link Result#found} then throws rather than answer {@code false}; a process that exits while it is
 * searched throws {@link ProcessExitedException}. The process searched is pinned with a pidfd, so
 * a process number reused meanwhile is never searched in its place.
 *
 * <p>The same search runs over a file ({@link #file}), such as a heap dump taken from outside.
 */
public final class MemorySearch {
    private static final long CHUNK = 1 << 20;
    /**
     * The default limit of {@link #process(long, Map)}: far more than the readable memory of the
     * processes xpfo searches (a JVM's few hundred MiB), far less than what a hostile process can map
     * readable without backing it ({@code MAP_NORESERVE}: terabytes, hours to read).
     */
    public static final long DEFAULT_LIMIT = 16L << 30;
    private static final int READ_ALL = 0;
    private static final int NO_DATA = -1;
    private static final int LIMIT_REACHED = -2;

    private final Map<String, byte[]> needles;
    private final int overlap;
    private final String[][] namesByFirstByte = new String[256][];
    private final byte[][][] needlesByFirstByte = new byte[256][][];
    private final Map<String, List<Hit>> hits = new LinkedHashMap<>();
    private final List<Refusal> refusals = new ArrayList<>();
    private long bytesRead;
    private int mappingsRead;
    private long limit = Long.MAX_VALUE;
    private Optional<String> stopped = Optional.empty();
    // the overlap kept from the last read: its bytes are at the buffer's start and end at carriedEnd
    private long carried;
    private long carriedEnd = -1;
    private Optional<MapsEntry> carriedMapping = Optional.empty();

    private MemorySearch(Map<String, byte[]> needles) {
        needles.forEach((name, needle) -> {
            if (needle.length == 0) {
                throw new IllegalArgumentException("empty needle " + name);
            }
        });
        this.needles = new LinkedHashMap<>(needles);
        this.overlap = needles.values().stream().mapToInt(n -> n.length).max().orElse(1) - 1;
        needles.keySet().forEach(name -> hits.put(name, new ArrayList<>()));
        needles.forEach((name, needle) -> {
            String[] names = namesByFirstByte[needle[0] & 0xff];
            names = names == null ? new String[1] : Arrays.copyOf(names, names.length + 1);
            names[names.length - 1] = name;
            namesByFirstByte[needle[0] & 0xff] = names;
            byte[][] same = needlesByFirstByte[needle[0] & 0xff];
            same = same == null ? new byte[1][] : Arrays.copyOf(same, same.length + 1);
            same[same.length - 1] = needle;
            needlesByFirstByte[needle[0] & 0xff] = same;
        });
    }

    /** Where a needle was found: a mapping and the address there, or (in a file) the offset. */
    public record Hit(String needle, Optional<MapsEntry> mapping, long address) {
        @Override
        public String toString() {
            return needle + " at " + Long.toHexString(address) + mapping.map(m -> " in " + describe(m)).orElse("");
        }
    }

    /**
     * A readable mapping the kernel would not let us read (or not entirely).
     *
     * @param errno the kernel's answer to {@code pread}; 0 if it returned nothing without an error
     */
    public record Refusal(MapsEntry mapping, int errno) {
        /** The errno's name, such as {@code EIO}. */
        public String errnoName() {
            return errno == 0 ? "no data" : Errno.name(errno);
        }

        /** Whether {@code address} lies in the refused mapping. */
        public boolean covers(long address) {
            return Long.compareUnsigned(address, mapping.start()) >= 0 && Long.compareUnsigned(address, mapping.end()) < 0;
        }

        @Override
        public String toString() {
            return describe(mapping) + " " + errnoName();
        }
    }

    /**
     * What one search read, refused and found.
     *
     * @param stopped why the search stopped before reading everything it meant to (its byte limit), or
     *                empty if it read every mapping (or refusal) to the end
     */
    public record Result(Map<String, List<Hit>> hits, long bytesRead, int mappingsRead, List<Refusal> refusals,
                         Optional<String> stopped) {
        public Result {
            hits = Map.copyOf(hits);
            refusals = List.copyOf(refusals);
        }

        /** Whether the search went through every readable mapping (each read or refused with an errno). */
        public boolean complete() {
            return stopped.isEmpty();
        }

        /**
         * Whether the needle named {@code needle} occurred anywhere that was read.
         *
         * @throws IncompleteSearchException if it was not found and the search stopped early: what was
         *                                   not read may hold it
         */
        public boolean found(String needle) {
            if (!hits(needle).isEmpty()) {
                return true;
            }
            if (stopped.isPresent()) {
                throw new IncompleteSearchException(needle + " not found, but the search stopped early: " + stopped.get());
            }
            return false;
        }

        /** Every place the needle named {@code needle} occurred. */
        public List<Hit> hits(String needle) {
            List<Hit> where = hits.get(needle);
            if (where == null) {
                throw new IllegalArgumentException("not a needle of this search: " + needle);
            }
            return where;
        }

        /** The refused mapping that holds {@code address}, if the search was refused there. */
        public Optional<Refusal> refusalCovering(long address) {
            return refusals.stream().filter(r -> r.covers(address)).findFirst();
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder();
            stopped.ifPresent(why -> text.append("INCOMPLETE (").append(why).append("): "));
            if (mappingsRead == 0 && refusals.isEmpty()) { // a file
                text.append("read ").append(bytesRead).append(" bytes");
            } else {
                text.append("read ").append(mappingsRead).append(" mappings (").append(bytesRead).append(" bytes), ")
                        .append(refusals.size()).append(" refused ").append(refusals);
            }
            // the first few places of each needle: a control such as a certificate is in the heap hundreds of times
            hits.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> text.append("; ").append(e.getKey())
                    .append(e.getValue().isEmpty() ? " not found" : " found " + e.getValue().size() + " times: "
                            + e.getValue().subList(0, Math.min(3, e.getValue().size())) + (e.getValue().size() > 3 ? " ..." : "")));
            return text.toString();
        }
    }

    /** A search that stopped early asked whether a needle it did not find was there. */
    public static final class IncompleteSearchException extends IllegalStateException {
        IncompleteSearchException(String message) {
            super(message);
        }
    }

    /** The process exited (or was never there) while it was searched: what was not read is unknown. */
    public static final class ProcessExitedException extends IOException {
        ProcessExitedException(String message) {
            super(message);
        }
    }

    /** {@code /proc/PID/mem} could not be opened: nothing of the process was read. */
    public static final class MemoryRefusedException extends IOException {
        private final int errno;

        MemoryRefusedException(long pid, int errno) {
            super("open /proc/" + pid + "/mem refused: " + Errno.name(errno));
            this.errno = errno;
        }

        /** The kernel's answer to {@code open}. */
        public int errno() {
            return errno;
        }
    }

    /**
     * {@link #process(long, Map, long)} with the {@link #DEFAULT_LIMIT}.
     */
    public static Result process(long pid, Map<String, byte[]> needles) throws IOException {
        return process(pid, needles, DEFAULT_LIMIT);
    }

    /**
     * Reads every readable mapping of process {@code pid} through {@code /proc/PID/mem} and looks for
     * each needle, reading at most {@code limit} bytes: past it the search stops and its result is
     * {@linkplain Result#complete() incomplete}. Needs the right to read the process's memory (same user
     * and ptrace allowed, or root).
     *
     * <p>The process is pinned first ({@code pidfd_open}); its maps and memory are opened by number and
     * then the pidfd is asked whether it has exited: if it has not, the number was its own all along and
     * both belong to it, never to a process that got the number later.
     *
     * @param needles byte strings by name, none empty
     * @param limit   the most bytes to read, positive
     * @throws MemoryRefusedException if {@code /proc/PID/mem} cannot be opened (EACCES, EPERM, ENOENT ...)
     * @throws ProcessExitedException if there is no process {@code pid} ({@code pidfd_open}: ESRCH), or it
     *                                exited before or while it was read
     * @throws IOException            if {@code /proc/PID/maps} cannot be read
     */
    public static Result process(long pid, Map<String, byte[]> needles, long limit) throws IOException {
        return process(pid, needles, limit, mapping -> {
        });
    }

    /** {@link #process(long, Map, long)}, calling {@code beforeEachMapping} before a mapping is read (for tests). */
    static Result process(long pid, Map<String, byte[]> needles, long limit, Consumer<MapsEntry> beforeEachMapping)
            throws IOException {
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        MemorySearch search = new MemorySearch(needles);
        search.limit = limit;
        try (Arena arena = Arena.ofConfined()) {
            int pidfd = Libc.pidfdOpen(pid, 0);
            if (pidfd < 0) {
                int errno = Libc.errno();
                if (errno == Errno.ESRCH) {
                    throw new ProcessExitedException("no process " + pid + " (pidfd_open: ESRCH)");
                }
                throw new IOException("pidfd_open " + pid + " failed: " + Errno.name(errno));
            }
            try {
                List<MapsEntry> maps = new ProcessDirectory(pid).maps();
                int fd = Libc.open(arena.allocateFrom("/proc/" + pid + "/mem"), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
                if (fd < 0) {
                    int errno = Libc.errno();
                    search.checkRunning(arena, pidfd, pid, "before /proc/" + pid + "/mem was opened");
                    throw new MemoryRefusedException(pid, errno);
                }
                try {
                    search.checkRunning(arena, pidfd, pid, "before it was read");
                    search.readMappings(fd, arena, pid, maps, beforeEachMapping);
                } finally {
                    Libc.close(fd);
                }
            } catch (NoSuchFileException e) {
                search.checkRunning(arena, pidfd, pid, "before its maps were read");
                throw e;
            } finally {
                Libc.close(pidfd);
            }
        }
        return search.result();
    }

    private void readMappings(int fd, Arena arena, long pid, List<MapsEntry> maps, Consumer<MapsEntry> beforeEachMapping)
            throws ProcessExitedException {
        MemorySegment buffer = arena.allocate(CHUNK + overlap);
        for (MapsEntry mapping : maps) {
            if (!mapping.permissions().startsWith("r") || mapping.path().startsWith("[vvar")
                    || mapping.path().equals("[vsyscall]")) {
                continue;
            }
            beforeEachMapping.accept(mapping);
            int status = read(fd, buffer, Optional.of(mapping), mapping.start(), mapping.end());
            if (status == READ_ALL) {
                mappingsRead++;
            } else if (status == LIMIT_REACHED) {
                stopped = Optional.of("read the limit of " + limit + " bytes, stopped in " + describe(mapping));
                return;
            } else if (status == NO_DATA) {
                // /proc/PID/mem answers 0 bytes only once the process's memory is gone: it exited
                throw new ProcessExitedException("process " + pid + " exited while it was searched, after " + mappingsRead
                        + " mappings (" + bytesRead + " bytes), in " + describe(mapping));
            } else {
                refusals.add(new Refusal(mapping, status));
            }
        }
    }

    /** Throws if the process the pidfd refers to has exited (its pidfd polls readable then). */
    private void checkRunning(Arena arena, int pidfd, long pid, String when) throws IOException {
        MemorySegment poll = arena.allocate(Libc.POLLFD);
        poll.set(JAVA_INT, 0, pidfd);
        poll.set(JAVA_SHORT, 4, Libc.POLLIN);
        int ready = Libc.poll(poll, 1, 0);
        if (ready < 0) {
            throw new IOException("poll on the pidfd of " + pid + " failed: " + Errno.name(Libc.errno()));
        }
        if (ready > 0) {
            throw new ProcessExitedException("process " + pid + " exited " + when);
        }
    }

    /**
     * Looks for each needle in a file, such as a heap dump; a {@link Hit}'s address is then the offset.
     *
     * @throws IOException if the file cannot be opened or read
     */
    public static Result file(Path file, Map<String, byte[]> needles) throws IOException {
        MemorySearch search = new MemorySearch(needles);
        long size = Files.size(file);
        try (Arena arena = Arena.ofConfined()) {
            int fd = Libc.open(arena.allocateFrom(file.toString()), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("cannot open " + file + ": " + Errno.name(Libc.errno()));
            }
            try {
                MemorySegment buffer = arena.allocate(CHUNK + search.overlap);
                int status = search.read(fd, buffer, Optional.empty(), 0, size);
                if (status != READ_ALL) {
                    throw new IOException("cannot read " + file + ": " + (status < 0 ? "it ended early" : Errno.name(status)));
                }
            } finally {
                Libc.close(fd);
            }
        }
        return search.result();
    }

    /**
     * Reads [start, end) of {@code fd} in chunks, carrying the last {@code overlap} bytes into the next,
     * and into the next call if it starts where this one ended.
     *
     * @return {@link #READ_ALL}, the errno of the {@code pread} that failed, {@link #NO_DATA} if one
     *         returned nothing, or {@link #LIMIT_REACHED}
     */
    private int read(int fd, MemorySegment buffer, Optional<MapsEntry> mapping, long start, long end) {
        if (start != carriedEnd) {
            carried = 0;
        }
        Optional<MapsEntry> before = carriedMapping; // where carried bytes from an earlier call lie
        carriedEnd = -1; // until this call has read up to its end
        for (long at = start; at < end; ) {
            if (bytesRead >= limit) {
                return LIMIT_REACHED;
            }
            long n = Libc.pread(fd, buffer.asSlice(carried), Math.min(Math.min(CHUNK, end - at), limit - bytesRead), at);
            if (n <= 0) {
                return n < 0 ? Libc.errno() : NO_DATA;
            }
            long valid = carried + n;
            byte[] haystack = buffer.asSlice(0, valid).toArray(JAVA_BYTE);
            long base = at - carried;
            // One pass for all needles: at each byte, only the needles starting with it are compared. Only
            // occurrences that end in the new bytes count: one wholly in the carried bytes was found last time.
            for (int i = 0; i < haystack.length; i++) {
                String[] names = namesByFirstByte[haystack[i] & 0xff];
                if (names == null) {
                    continue;
                }
                byte[][] candidates = needlesByFirstByte[haystack[i] & 0xff];
                for (int c = 0; c < candidates.length; c++) {
                    byte[] needle = candidates[c];
                    if (i + needle.length <= haystack.length && i + needle.length > carried
                            && Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                        hits.get(names[c]).add(new Hit(names[c], base + i < start ? before : mapping, base + i));
                    }
                }
            }
            bytesRead += n;
            at += n;
            carried = Math.min(overlap, valid);
            MemorySegment.copy(buffer, valid - carried, buffer, 0, carried);
        }
        carriedEnd = end;
        carriedMapping = mapping;
        return READ_ALL;
    }

    private Result result() {
        return new Result(hits, bytesRead, mappingsRead, refusals, stopped);
    }

    /** The first index at or after {@code from} where {@code needle} occurs in {@code haystack[0, length)}, or -1. */
    static int indexOf(byte[] haystack, int length, byte[] needle, int from) {
        // A plain array loop is what the JIT scans fastest; a search covers hundreds of MiB.
        byte first = needle[0];
        int last = length - needle.length;
        for (int i = Math.max(0, from); i <= last; i++) {
            if (haystack[i] == first && Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        return -1;
    }

    static String describe(MapsEntry mapping) {
        return Long.toHexString(mapping.start()) + "-" + Long.toHexString(mapping.end())
                + (mapping.path().isEmpty() ? "" : " " + mapping.path());
    }
}
