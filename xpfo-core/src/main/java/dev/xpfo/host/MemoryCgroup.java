// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The memory cgroup that counts the secret memory this process populates: the kernel charges a
 * page to the memory cgroup of the process that first touches it, as {@code unevictable} in
 * {@code memory.stat}, and uncharges it only when it frees the page, wherever the file's descriptors
 * went (another process, a Unix socket's queue, an io_uring's fixed files). A service that populates
 * its stock from a cgroup of its own can therefore count everything it ever populated and is still
 * alive, which no scan of {@code /proc} can.
 *
 * <p>{@link #join(String)} finds or makes that cgroup, in this order:
 * <ol>
 *   <li>this process is alone in its own memory cgroup (a systemd unit's cgroup): that one;</li>
 *   <li>a child cgroup {@code NAME} of the current one can be made (root, or a delegated subtree) and
 *       the memory controller is on in it: made, and the whole process moved there (its threads
 *       too, {@code cgroup.procs}); removed again by {@link #close()};</li>
 *   <li>otherwise nothing is counted ({@link #counted()} false), and {@link #why()} says why.</li>
 * </ol>
 * The move must come before the first page is populated: cgroup v1 leaves pages charged before a
 * move where they were ({@code memory.move_charge_at_immigrate} 0), v2 always does.
 *
 * <p>Every unevictable byte in the cgroup counts (its descendants' too): mlocked memory and ramfs
 * pages would count with the secret memory, so a count is never below what the process populated.
 * The statistics are the kernel's: it flushes per-CPU updates at least every 2 s and on a read once
 * enough are pending, and a page enters the count when it leaves the per-CPU LRU batch (at most 31
 * pages per CPU; the populating thread's own batch is drained by its {@code munmap}).
 */
public final class MemoryCgroup implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.host");
    private static final Path PROC_CGROUP = Path.of("/proc/self/cgroup");
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    /** Fresh names tried before giving up (each taken already, by chance or by someone). */
    private static final int NAME_ATTEMPTS = 8;
    /** Cgroups this process made and has not removed yet. */
    private static final java.util.Set<Path> MADE = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** How the cgroup came to count this process's memory. */
    public enum Origin {
        /** This process was alone in its memory cgroup already (a systemd unit's). */
        OWN,
        /** Made for this process by {@link #join}, removed by {@link #close}. */
        CREATED,
        /** Nothing counts: no memory controller, or no permission to make a cgroup, and not alone. */
        NONE
    }

    private final Origin origin;
    private final Path directory;
    private final boolean version2;
    private final String why;
    private boolean closed;

    private MemoryCgroup(Origin origin, Path directory, boolean version2, String why) {
        this.origin = origin;
        this.directory = directory;
        this.version2 = version2;
        this.why = why;
    }

    /**
     * Finds or makes a memory cgroup that only this process is in (see the class description).
     * Never throws for lack of a controller or permission: the result says what is counted.
     *
     * A cgroup is made under a fresh name, {@code childName-RANDOM}, by a {@code mkdir} that fails if
     * the name exists: a cgroup that exists already, whoever made it, is never taken over (it may hold
     * a {@code memory.max} or other processes' memory), and {@link #close()} removes only the one made.
     *
     * @param childName the start of the name of the child cgroup to make if needed, e.g. {@code xpfo-PID}
     */
    public static MemoryCgroup join(String childName) {
        if (childName.isEmpty() || childName.contains("/") || childName.startsWith(".")) {
            throw new IllegalArgumentException("not a cgroup name: " + childName);
        }
        Optional<Path> found = current();
        if (found.isEmpty()) {
            return new MemoryCgroup(Origin.NONE, null, false, "no memory cgroup controller is mounted "
                    + "(neither cgroup v2 with the memory controller nor cgroup v1 \"memory\")");
        }
        Path current = found.get();
        boolean v2 = Files.exists(current.resolve("cgroup.controllers"));
        long self = ProcessHandle.current().pid();
        // A cgroup this process made earlier is its own even if a child it started is in it too.
        if (processes(current).equals(List.of(self)) || MADE.contains(current)) {
            return new MemoryCgroup(Origin.OWN, current, v2, "");
        }
        Path child = null;
        for (int attempt = 1; child == null; attempt++) {
            Path candidate = current.resolve(childName + "-" + Long.toHexString(RANDOM.nextLong() >>> 16));
            try {
                Files.createDirectory(candidate);
                child = candidate;
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // Someone else's (or an earlier one's): never taken over, never removed. Another name.
                if (attempt == NAME_ATTEMPTS) {
                    return new MemoryCgroup(Origin.NONE, null, v2, "could not make a memory cgroup of its own under "
                            + current + ": " + NAME_ATTEMPTS + " fresh names " + childName + "-* existed already");
                }
            } catch (IOException e) {
                return new MemoryCgroup(Origin.NONE, null, v2, "this process shares the memory cgroup " + current
                        + " with other processes and may not make one of its own there (" + reason(e)
                        + "); run the service as root, under its systemd unit, or in a delegated cgroup");
            }
        }
        try {
            if (!Files.exists(child.resolve("memory.stat"))) {
                throw new IOException("the memory controller is not enabled for children of " + current
                        + " (cgroup.subtree_control)");
            }
            Files.writeString(child.resolve("cgroup.procs"), Long.toString(self));
        } catch (IOException e) {
            removeQuietly(child);
            return new MemoryCgroup(Origin.NONE, null, v2, "could not move this process into a memory cgroup of "
                    + "its own at " + child + " (" + reason(e) + ")");
        }
        MADE.add(child);
        return new MemoryCgroup(Origin.CREATED, child, v2, "");
    }

    /** True if {@link #unevictableBytes()} counts this process's secret memory. */
    public boolean counted() {
        return origin != Origin.NONE;
    }

    public Origin origin() {
        return origin;
    }

    /** Why nothing is counted (empty if something is). */
    public String why() {
        return why;
    }

    /** The cgroup's directory, if counted. */
    public Optional<Path> directory() {
        return Optional.ofNullable(directory);
    }

    /** For people: which cgroup counts, and how it came to. */
    public String description() {
        return switch (origin) {
            case OWN -> directory + " (cgroup " + (version2 ? "v2" : "v1") + ", this process alone in it)";
            case CREATED -> directory + " (cgroup " + (version2 ? "v2" : "v1") + ", made for this process)";
            case NONE -> "none: " + why;
        };
    }

    /**
     * Unevictable bytes charged to the cgroup and its descendants now ({@code memory.stat}
     * {@code unevictable} in v2, {@code total_unevictable} in v1): every secret memory page populated
     * from it and not yet freed by the kernel.
     *
     * @throws IllegalStateException nothing is counted, or the cgroup cannot be read any more
     */
    public long unevictableBytes() {
        if (directory == null) {
            throw new IllegalStateException("no memory cgroup counts this process: " + why);
        }
        String stat;
        try {
            stat = Files.readString(directory.resolve("memory.stat"), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + directory.resolve("memory.stat") + ": " + reason(e), e);
        }
        Long value = ProcFiles.counters(stat).get(version2 ? "unevictable" : "total_unevictable");
        if (value == null) {
            throw new IllegalStateException(directory.resolve("memory.stat") + " has no unevictable count");
        }
        return value;
    }

    /**
     * Moves this process back to the parent cgroup and removes the cgroup {@link #join} made (only that
     * one; a cgroup this process found itself in is left alone). Pages still charged to it stay counted
     * by the kernel in the removed cgroup until freed. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed || origin != Origin.CREATED) {
            closed = true;
            return;
        }
        closed = true;
        MADE.remove(directory);
        long self = ProcessHandle.current().pid();
        try {
            if (processes(directory).contains(self)) {
                Files.writeString(directory.getParent().resolve("cgroup.procs"), Long.toString(self));
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not move this process out of the memory cgroup " + directory
                    + " made for it: " + reason(e));
            return;
        }
        // Threads that are exiting leave the cgroup a moment later (rmdir is EBUSY until then).
        for (int attempt = 1; ; attempt++) {
            try {
                Files.delete(directory);
                return;
            } catch (IOException e) {
                if (attempt == 100) {
                    // Usually a child this process started while it was in the cgroup, still running:
                    // try again when this process exits.
                    LOG.log(System.Logger.Level.WARNING, "could not remove the memory cgroup " + directory + " made for "
                            + "this process yet (" + reason(e) + "); trying again when this process exits");
                    removeAtExit(directory);
                    return;
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Cgroups this process made and could not remove at close, removed (if empty by then) at exit. */
    private static final java.util.Set<Path> REMOVE_AT_EXIT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static void removeAtExit(Path directory) {
        synchronized (REMOVE_AT_EXIT) {
            if (REMOVE_AT_EXIT.isEmpty()) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> REMOVE_AT_EXIT.forEach(left -> {
                    try {
                        Files.deleteIfExists(left);
                    } catch (IOException e) {
                        // still in use by a process that outlives this one: nothing more to do
                    }
                }), "xpfo-cgroup-cleanup"));
            }
            REMOVE_AT_EXIT.add(directory);
        }
    }

    @Override
    public String toString() {
        return "MemoryCgroup[" + description() + "]";
    }

    /** The directory of this process's memory cgroup: v2 if its memory controller is on there, else v1. */
    static Optional<Path> current() {
        String membership = ProcFiles.read(PROC_CGROUP);
        String mounts = ProcFiles.read(MOUNTINFO);
        String v1 = null;
        String v2 = null;
        for (String line : membership.split("\n")) {
            String[] fields = line.split(":", 3);
            if (fields.length < 3) {
                continue;
            }
            if (fields[0].equals("0") && fields[1].isEmpty()) {
                v2 = fields[2];
            } else if (List.of(fields[1].split(",")).contains("memory")) {
                v1 = fields[2];
            }
        }
        if (v2 != null) {
            Optional<Path> dir = mounted(mounts, "cgroup2", null, v2);
            if (dir.isPresent() && Files.exists(dir.get().resolve("memory.stat"))) {
                return dir;
            }
        }
        if (v1 != null) {
            return mounted(mounts, "cgroup", "memory", v1).filter(dir -> Files.exists(dir.resolve("memory.stat")));
        }
        return Optional.empty();
    }

    /** Where the cgroup {@code path} of a mounted hierarchy is, from {@code /proc/self/mountinfo}. */
    static Optional<Path> mounted(String mountinfo, String type, String option, String path) {
        for (String line : mountinfo.split("\n")) {
            int dash = line.indexOf(" - ");
            if (dash < 0) {
                continue;
            }
            String[] left = line.substring(0, dash).split(" ");
            String[] right = line.substring(dash + 3).split(" ");
            if (left.length < 5 || right.length < 3 || !right[0].equals(type)) {
                continue;
            }
            if (option != null && !List.of(right[2].split(",")).contains(option)) {
                continue;
            }
            String root = left[3];
            String relative;
            if (root.equals("/")) {
                relative = path;
            } else if (path.equals(root) || path.startsWith(root + "/")) {
                relative = path.substring(root.length());
            } else {
                continue;
            }
            Path dir = Path.of(left[4]);
            for (String part : relative.split("/")) {
                if (!part.isEmpty()) {
                    dir = dir.resolve(part);
                }
            }
            return Optional.of(dir);
        }
        return Optional.empty();
    }

    private static List<Long> processes(Path cgroup) {
        List<Long> pids = new ArrayList<>();
        for (String line : ProcFiles.read(cgroup.resolve("cgroup.procs")).split("\n")) {
            if (!line.isBlank()) {
                pids.add(Long.parseLong(line.trim()));
            }
        }
        return pids;
    }

    private static void removeQuietly(Path child) {
        try {
            Files.deleteIfExists(child);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not remove " + child + ": " + reason(e));
        }
    }

    private static String reason(IOException e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        return switch (e) {
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.FileAlreadyExistsException a -> "it exists already";
            case java.nio.file.FileSystemException f when f.getReason() != null -> f.getReason();
            default -> message;
        };
    }
}
