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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

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
 * longest needle less one byte, so a needle across a chunk boundary is found, once.
 *
 * <p>The same search runs over a file ({@link #file}), such as a heap dump taken from outside.
 */
public final class MemorySearch {
    private static final long CHUNK = 1 << 20;

    private final Map<String, byte[]> needles;
    private final int overlap;
    private final String[][] namesByFirstByte = new String[256][];
    private final byte[][][] needlesByFirstByte = new byte[256][][];
    private final Map<String, List<Hit>> hits = new LinkedHashMap<>();
    private final List<Refusal> refusals = new ArrayList<>();
    private long bytesRead;
    private int mappingsRead;

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

    /** What one search read, refused and found. */
    public record Result(Map<String, List<Hit>> hits, long bytesRead, int mappingsRead, List<Refusal> refusals) {
        public Result {
            hits = Map.copyOf(hits);
            refusals = List.copyOf(refusals);
        }

        /** Whether the needle named {@code needle} occurred anywhere that was read. */
        public boolean found(String needle) {
            return !hits(needle).isEmpty();
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
     * Reads every readable mapping of process {@code pid} through {@code /proc/PID/mem} and looks for
     * each needle. Needs the right to read the process's memory (same user and ptrace allowed, or root).
     *
     * @param needles byte strings by name, none empty
     * @throws MemoryRefusedException if {@code /proc/PID/mem} cannot be opened (EACCES, EPERM, ENOENT ...)
     * @throws IOException            if {@code /proc/PID/maps} cannot be read
     */
    public static Result process(long pid, Map<String, byte[]> needles) throws IOException {
        MemorySearch search = new MemorySearch(needles);
        List<MapsEntry> maps = new ProcessDirectory(pid).maps();
        try (Arena arena = Arena.ofConfined()) {
            int fd = Libc.open(arena.allocateFrom("/proc/" + pid + "/mem"), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0) {
                throw new MemoryRefusedException(pid, Libc.errno());
            }
            try {
                MemorySegment buffer = arena.allocate(CHUNK + search.overlap);
                for (MapsEntry mapping : maps) {
                    if (!mapping.permissions().startsWith("r") || mapping.path().startsWith("[vvar")
                            || mapping.path().equals("[vsyscall]")) {
                        continue;
                    }
                    int errno = search.read(fd, buffer, Optional.of(mapping), mapping.start(), mapping.end());
                    if (errno == 0) {
                        search.mappingsRead++;
                    } else {
                        search.refusals.add(new Refusal(mapping, Math.max(errno, 0)));
                    }
                }
            } finally {
                Libc.close(fd);
            }
        }
        return search.result();
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
                int errno = search.read(fd, buffer, Optional.empty(), 0, size);
                if (errno != 0) {
                    throw new IOException("cannot read " + file + ": " + (errno < 0 ? "it ended early" : Errno.name(errno)));
                }
            } finally {
                Libc.close(fd);
            }
        }
        return search.result();
    }

    /**
     * Reads [start, end) of {@code fd} in chunks, carrying the last {@code overlap} bytes into the next.
     *
     * @return 0 if all was read, the errno of the {@code pread} that failed, or -1 if one returned nothing
     */
    private int read(int fd, MemorySegment buffer, Optional<MapsEntry> mapping, long start, long end) {
        long carried = 0;
        for (long at = start; at < end; ) {
            long n = Libc.pread(fd, buffer.asSlice(carried), Math.min(CHUNK, end - at), at);
            if (n <= 0) {
                return n < 0 ? Libc.errno() : -1;
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
                        hits.get(names[c]).add(new Hit(names[c], mapping, base + i));
                    }
                }
            }
            bytesRead += n;
            at += n;
            carried = Math.min(overlap, valid);
            MemorySegment.copy(buffer, valid - carried, buffer, 0, carried);
        }
        return 0;
    }

    private Result result() {
        return new Result(hits, bytesRead, mappingsRead, refusals);
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
