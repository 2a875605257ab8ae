// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.NativeErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * This process's {@code RLIMIT_MEMLOCK}, whether it has {@code CAP_IPC_LOCK} (which lifts the limit),
 * and what it has locked now. Every secret memory mapping is charged against this limit, for its whole
 * length, from {@code mmap} until {@code munmap}; a secret memory file that is not mapped is not.
 *
 * @param soft         the soft limit in bytes, -1 for unlimited
 * @param hard         the hard limit in bytes, -1 for unlimited
 * @param capIpcLock   whether the effective capabilities include {@code CAP_IPC_LOCK}
 * @param lockedBytes  {@code VmLck} from {@code /proc/self/status}
 */
public record MemlockLimit(long soft, long hard, boolean capIpcLock, long lockedBytes) {
    private static final int CAP_IPC_LOCK = 14;

    /** Reads the limit of the calling process. */
    public static MemlockLimit current() {
        long soft;
        long hard;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rlimit = arena.allocate(Libc.RLIMIT);
            if (Libc.getrlimit(Libc.RLIMIT_MEMLOCK, rlimit) != 0) {
                throw NativeErrors.call("getrlimit(RLIMIT_MEMLOCK)", Libc.errno(), "could not read this process's memlock limit");
            }
            soft = rlimit.get(JAVA_LONG, 0);
            hard = rlimit.get(JAVA_LONG, 8);
        }
        String status = ProcFiles.read(Path.of("/proc/self/status"));
        long capEff = Long.parseUnsignedLong(ProcFiles.field(status, "CapEff").orElse("0"), 16);
        long locked = ProcFiles.field(status, "VmLck").map(ProcFiles::kilobytes).orElse(0L);
        return new MemlockLimit(soft, hard, (capEff & (1L << CAP_IPC_LOCK)) != 0, locked);
    }

    /** True if a mapping of {@code bytes} more would be refused with {@code EAGAIN}. */
    public boolean wouldRefuse(long bytes) {
        return !capIpcLock && soft >= 0 && lockedBytes + bytes > soft;
    }

    /** Whether the limit applies at all: false with {@code CAP_IPC_LOCK} or an unlimited soft limit. */
    public boolean limited() {
        return !capIpcLock && soft >= 0;
    }

    /**
     * How much more secret memory this process can map now: the soft limit less what it has locked;
     * {@link Long#MAX_VALUE} when the limit does not apply.
     */
    public long roomBytes() {
        return limited() ? Math.max(0, soft - lockedBytes) : Long.MAX_VALUE;
    }

    /**
     * The soft limit a process needs to map {@code bytes} more on top of what this one has locked, in
     * the unit of {@code ulimit -l}, {@code limits.conf} and {@code prlimit --memlock} with a K: KiB,
     * rounded up.
     */
    public long neededKib(long bytes) {
        return kib(Math.addExact(Math.max(0, lockedBytes), bytes));
    }

    /** {@code bytes} in KiB, rounded up: the unit {@code ulimit -l} counts in. */
    public static long kib(long bytes) {
        return Math.ceilDiv(bytes, Bytes.KIB);
    }

    /** A limit in {@code ulimit -l} units ({@code 8192}, {@code unlimited}). */
    public static String ulimitUnits(long bytes) {
        return bytes < 0 ? "unlimited" : Long.toString(kib(bytes));
    }

    /** The limit in one line, in the units people raise it in: {@code soft 8 MiB (ulimit -l 8192), hard ...}. */
    public String describe() {
        return "soft " + (soft < 0 ? "unlimited" : Bytes.format(soft) + " (ulimit -l " + ulimitUnits(soft) + ")")
                + ", hard " + (hard < 0 ? "unlimited" : Bytes.format(hard) + " (ulimit -H -l " + ulimitUnits(hard) + ")")
                + "; locked now " + Bytes.format(lockedBytes)
                + (capIpcLock ? "; CAP_IPC_LOCK held, so the limit does not apply" : "");
    }

    /**
     * What to do so that {@code bytes} more can be mapped, one way per line (each starting with
     * {@code "  - "}), with the exact number: the shell's {@code ulimit -l} (only up to the hard limit),
     * the hard limit for a login user in {@code /etc/security/limits.conf}, a systemd unit's
     * {@code LimitMEMLOCK=}, or {@code CAP_IPC_LOCK} on the named binary, which lifts the limit.
     */
    public String remedy(long bytes) {
        long kib = neededKib(bytes);
        String user = System.getProperty("user.name", "");
        if (!user.matches("[a-z_][a-z0-9_.-]*")) {
            user = "USER";
        }
        String java = ProcessHandle.current().info().command().orElse("/path/to/bin/java");
        StringBuilder t = new StringBuilder();
        boolean hardSuffices = hard < 0 || kib(hard) >= kib;
        t.append("\n  - in this shell").append(hardSuffices ? "" : ", once the hard limit allows it").append(": ulimit -l ")
                .append(kib).append("   (the unit is KiB; the hard limit, ")
                .append(hard < 0 ? "unlimited" : ulimitUnits(hard)).append(", is the most a user can set)");
        t.append("\n  - the hard limit for a login user (root edits it): a line `").append(user).append(" - memlock ")
                .append(kib).append("` in /etc/security/limits.conf or /etc/security/limits.d/xpfo.conf, then log in again");
        t.append("\n  - for a systemd service: LimitMEMLOCK=").append(kib).append("K (or infinity) in its [Service] section");
        t.append("\n  - or CAP_IPC_LOCK, which lifts the limit: systemd AmbientCapabilities=CAP_IPC_LOCK, or "
                + "`setcap cap_ipc_lock+ep ").append(java)
                .append("` (then every program that binary runs, for every user, can lock memory without limit)");
        return t.toString();
    }
}
