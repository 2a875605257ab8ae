package dev.xpfo.host;

import dev.xpfo.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * This process's {@code RLIMIT_MEMLOCK}, whether it has {@code CAP_IPC_LOCK} (which lifts the limit),
 * and what it has locked now. Every secret memory mapping is charged against this limit.
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
                throw new IllegalStateException("getrlimit(RLIMIT_MEMLOCK) failed: errno " + Libc.errno());
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
}
