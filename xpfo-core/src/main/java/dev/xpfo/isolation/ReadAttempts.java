// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The other process of {@link IsolationCheck}: it tries, with every means another process of the
 * same user has, to read a target process's memory, and reports each attempt as one line on
 * standard output. It is given, for each region, its address, its length and the marker split in two
 * random halves whose XOR is the marker, so the marker itself never exists in the target's readable
 * memory except where it was written.
 *
 * <p>Usage: {@code ReadAttempts PID (NAME ADDRESS LENGTH HALF1 HALF2)...}; it waits for a line on
 * standard input before starting, so the target can first allow it to trace (Yama).
 */
public final class ReadAttempts {
    static final String PREFIX = "ATTEMPT";

    /** One region to attack. */
    record Region(String name, long address, long length, byte[] marker) {
    }

    private final int pid;
    private final List<Region> regions;
    private final PrintStream out;

    ReadAttempts(int pid, List<Region> regions, PrintStream out) {
        this.pid = pid;
        this.regions = regions;
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        int pid = Integer.parseInt(args[0]);
        List<Region> regions = new ArrayList<>();
        HexFormat hex = HexFormat.of();
        for (int i = 1; i + 4 < args.length; i += 5) {
            byte[] half1 = hex.parseHex(args[i + 3]);
            byte[] half2 = hex.parseHex(args[i + 4]);
            byte[] marker = new byte[half1.length];
            for (int b = 0; b < marker.length; b++) {
                marker[b] = (byte) (half1[b] ^ half2[b]);
            }
            regions.add(new Region(args[i], Long.parseUnsignedLong(args[i + 1], 16), Long.parseLong(args[i + 2]), marker));
        }
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine();
        new ReadAttempts(pid, regions, System.out).run();
        System.out.flush();
    }

    void run() {
        regions.forEach(this::procMem);
        regions.forEach(this::processVmReadv);
        ptracePeek();
        scan();
    }

    private void report(String method, String target, int errno, long bytesRead, boolean markerFound, String detail) {
        out.println(String.join("\t", PREFIX, method, target, Integer.toString(errno), Long.toString(bytesRead),
                Boolean.toString(markerFound), detail.replace('\t', ' ').replace('\n', ' ')));
    }

    /** Reads the region through {@code /proc/PID/mem}, as a debugger or a memory scraper would. */
    private void procMem(Region region) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = Libc.open(arena.allocateFrom("/proc/" + pid + "/mem"), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0) {
                report("proc_mem", region.name(), Libc.errno(), 0, false, "open /proc/" + pid + "/mem refused");
                return;
            }
            try {
                MemorySegment buffer = arena.allocate(region.length());
                long n = Libc.pread(fd, buffer, region.length(), region.address());
                if (n < 0) {
                    report("proc_mem", region.name(), Libc.errno(), 0, false, "pread at the region refused");
                } else {
                    report("proc_mem", region.name(), 0, n, contains(buffer, n, region.marker()), "pread returned " + n + " bytes");
                }
            } finally {
                Libc.close(fd);
            }
        }
    }

    /** Copies the region with {@code process_vm_readv}, the cross-memory-attach path. */
    private void processVmReadv(Region region) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(region.length());
            MemorySegment local = arena.allocate(Libc.IOVEC);
            local.set(ADDRESS, 0, buffer);
            local.set(JAVA_LONG, 8, region.length());
            MemorySegment remote = arena.allocate(Libc.IOVEC);
            remote.set(ADDRESS, 0, MemorySegment.ofAddress(region.address()));
            remote.set(JAVA_LONG, 8, region.length());
            long n = Libc.processVmReadv(pid, local, 1, remote, 1, 0);
            if (n < 0) {
                report("process_vm_readv", region.name(), Libc.errno(), 0, false, "copy refused");
            } else {
                report("process_vm_readv", region.name(), 0, n, contains(buffer, n, region.marker()), "copied " + n + " bytes");
            }
        }
    }

    /**
     * Attaches with {@code PTRACE_SEIZE} (which, unlike {@code PTRACE_ATTACH}, sends no SIGSTOP to the
     * whole process), stops the main thread and peeks each region's first words.
     */
    private void ptracePeek() {
        if (Libc.ptrace(Libc.PTRACE_SEIZE, pid, 0, 0) != 0) {
            int errno = Libc.errno();
            for (Region region : regions) {
                report("ptrace_peekdata", region.name(), errno, 0, false, "PTRACE_SEIZE refused");
            }
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            if (Libc.ptrace(Libc.PTRACE_INTERRUPT, pid, 0, 0) != 0) {
                int errno = Libc.errno();
                regions.forEach(r -> report("ptrace_peekdata", r.name(), errno, 0, false, "PTRACE_INTERRUPT refused"));
                return;
            }
            MemorySegment status = arena.allocate(JAVA_INT);
            if (Libc.waitpid(pid, status, Libc.WALL) != pid) {
                int errno = Libc.errno();
                regions.forEach(r -> report("ptrace_peekdata", r.name(), errno, 0, false, "waitpid for the stop failed"));
                return;
            }
            for (Region region : regions) {
                int words = region.marker().length / 8;
                MemorySegment read = arena.allocate(8L * words);
                int errno = 0;
                long bytes = 0;
                for (int w = 0; w < words; w++) {
                    long word = Libc.ptrace(Libc.PTRACE_PEEKDATA, pid, region.address() + 8L * w, 0);
                    int e = Libc.errno();
                    if (word == -1 && e != 0) {
                        errno = e;
                        break;
                    }
                    read.set(JAVA_LONG, 8L * w, word);
                    bytes += 8;
                }
                report("ptrace_peekdata", region.name(), errno, bytes,
                        errno == 0 && contains(read, bytes, region.marker()),
                        errno == 0 ? "peeked " + bytes + " bytes" : "PTRACE_PEEKDATA refused");
            }
        } finally {
            Libc.ptrace(Libc.PTRACE_DETACH, pid, 0, 0);
        }
    }

    /**
     * Reads every readable mapping of the target through {@code /proc/PID/mem} ({@link MemorySearch})
     * and looks for each region's marker anywhere: a copy left on the heap, a stack or a buffer would
     * show up here.
     */
    private void scan() {
        Map<String, byte[]> markers = new LinkedHashMap<>(); // by index: two regions may share a name
        for (int i = 0; i < regions.size(); i++) {
            if (regions.get(i).marker().length > 0) { // an empty marker is never found, as contains() says
                markers.put(Integer.toString(i), regions.get(i).marker());
            }
        }
        MemorySearch.Result result;
        try {
            result = MemorySearch.process(pid, markers);
        } catch (MemorySearch.MemoryRefusedException e) {
            regions.forEach(r -> report("scan", r.name(), e.errno(), 0, false, "open /proc/" + pid + "/mem refused"));
            return;
        } catch (MemorySearch.ProcessExitedException e) {
            regions.forEach(r -> report("scan", r.name(), Errno.ESRCH, 0, false, e.getMessage()));
            return;
        } catch (IOException | IllegalArgumentException e) {
            regions.forEach(r -> report("scan", r.name(), Errno.EACCES, 0, false, "cannot read /proc/" + pid + "/maps"));
            return;
        }
        String refusals = result.refusals().isEmpty() ? "" : ", first: " + result.refusals().getFirst();
        String detail = "read " + result.mappingsRead() + " mappings (" + result.bytesRead() + " bytes), "
                + result.refusals().size() + " refused" + refusals;
        // A search stopped by its limit proves no absence: every region is reported unread (EFBIG) unless
        // its marker was found, so the control reads as blind and the check cannot call the secret protected.
        int errno = result.complete() ? 0 : Errno.EFBIG;
        if (!result.complete()) {
            detail += ", " + result.stopped().orElseThrow();
        }
        for (int i = 0; i < regions.size(); i++) {
            String key = Integer.toString(i);
            report("scan", regions.get(i).name(), errno, result.bytesRead(), markers.containsKey(key) && !result.hits(key).isEmpty(), detail);
        }
    }

    /** Whether {@code marker} occurs in the first {@code length} bytes of {@code memory}. */
    static boolean contains(MemorySegment memory, long length, byte[] marker) {
        if (marker.length == 0 || length < marker.length) {
            return false;
        }
        byte[] haystack = memory.asSlice(0, length).toArray(JAVA_BYTE);
        return MemorySearch.indexOf(haystack, haystack.length, marker, 0) >= 0;
    }
}
