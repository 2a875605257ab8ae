package dev.xpfo.memory;

import dev.xpfo.host.MemlockLimit;
import dev.xpfo.linux.Errno;

/**
 * Mapping secret memory would exceed {@code RLIMIT_MEMLOCK}. The kernel charges every secret
 * mapping, for its whole length, to the mapping process's memlock limit at {@code mmap} time
 * (unless it has {@code CAP_IPC_LOCK}), and refuses with {@code EAGAIN} past it.
 */
public final class MemlockLimitException extends NativeCallException {
    private final long requestedBytes;
    private final long limitBytes;
    private final long lockedBytes;

    public MemlockLimitException(long requestedBytes, long limitBytes, long hardLimitBytes, long lockedBytes) {
        super("mmap", Errno.EAGAIN,
                "mapping " + requestedBytes + " bytes of secret memory exceeds RLIMIT_MEMLOCK (soft limit "
                        + Bytes.describeLimit(limitBytes) + ", hard limit " + Bytes.describeLimit(hardLimitBytes)
                        + ", already locked by this process " + lockedBytes + " bytes)",
                "raise the limit for a shell with `ulimit -l <KiB>` (up to the hard limit; root can raise that), "
                        + "for a systemd service with `LimitMEMLOCK=<bytes>|infinity`, "
                        + "or give the process CAP_IPC_LOCK (`setcap cap_ipc_lock+ep`, or systemd "
                        + "`AmbientCapabilities=CAP_IPC_LOCK`), which lifts the limit");
        this.requestedBytes = requestedBytes;
        this.limitBytes = limitBytes;
        this.lockedBytes = lockedBytes;
    }

    /**
     * The exception for a refusal ({@code EAGAIN} from {@code mmap} or {@code mlock}) that just happened,
     * with the process's limit and locked bytes read now.
     */
    public static MemlockLimitException refused(long requestedBytes) {
        MemlockLimit limit = MemlockLimit.current();
        return new MemlockLimitException(requestedBytes, limit.soft(), limit.hard(), limit.lockedBytes());
    }

    /** The length of the mapping that was refused. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** The soft {@code RLIMIT_MEMLOCK} in bytes when the mapping was refused; -1 for unlimited. */
    public long limitBytes() {
        return limitBytes;
    }

    /** What the process already had locked ({@code VmLck}) when the mapping was refused. */
    public long lockedBytes() {
        return lockedBytes;
    }
}
