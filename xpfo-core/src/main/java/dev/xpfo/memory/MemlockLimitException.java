// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.host.MemlockLimit;
import dev.xpfo.linux.Errno;

/**
 * Mapping secret memory would exceed {@code RLIMIT_MEMLOCK}. The kernel charges every secret
 * mapping, for its whole length, to the mapping process's memlock limit at {@code mmap} time
 * (unless it has {@code CAP_IPC_LOCK}), and refuses with {@code EAGAIN} past it.
 *
 * <p>The message, over several lines, says how much was asked for, the limit in {@code ulimit -l}
 * units (KiB), the exact limit needed, and how to raise it: {@code ulimit -l}, {@code limits.conf}
 * for the hard limit, systemd's {@code LimitMEMLOCK=}, or {@code CAP_IPC_LOCK} on the named binary.
 */
public final class MemlockLimitException extends NativeCallException {
    private final long requestedBytes;
    private final long limitBytes;
    private final long lockedBytes;

    public MemlockLimitException(long requestedBytes, long limitBytes, long hardLimitBytes, long lockedBytes) {
        this("mmap", Errno.EAGAIN, requestedBytes, new MemlockLimit(limitBytes, hardLimitBytes, false, lockedBytes));
    }

    private MemlockLimitException(String call, int errno, long requestedBytes, MemlockLimit limit) {
        super(call, errno,
                "mapping " + Bytes.format(requestedBytes) + " (" + requestedBytes + " bytes) of secret memory "
                        + "exceeds RLIMIT_MEMLOCK, this process's memlock limit, which the kernel charges every secret "
                        + "memory mapping against:\n  limit: " + limit.describe()
                        + "\n  needed: a soft limit of at least " + limit.neededKib(requestedBytes) + " KiB ("
                        + Bytes.format(MemlockLimit.kib(limit.lockedBytes() + requestedBytes) * Bytes.KIB) + ")",
                "raise the limit to " + limit.neededKib(requestedBytes) + " KiB or more, in one of these ways:"
                        + limit.remedy(requestedBytes));
        this.requestedBytes = requestedBytes;
        this.limitBytes = limit.soft();
        this.lockedBytes = limit.lockedBytes();
    }

    /**
     * The exception for a refusal of {@code call} ({@code EAGAIN} from {@code mmap}; {@code EAGAIN},
     * {@code ENOMEM} or {@code EPERM} from {@code mlock}) that just happened, with the process's limit
     * and locked bytes read now. {@link NativeErrors} decides when a failure is this one.
     */
    static MemlockLimitException refused(String call, int errno, long requestedBytes) {
        MemlockLimit limit = MemlockLimit.current();
        return new MemlockLimitException(call, errno, requestedBytes,
                new MemlockLimit(limit.soft(), limit.hard(), false, limit.lockedBytes()));
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

    /** The soft limit, in KiB ({@code ulimit -l} units), that would have let the mapping through. */
    public long neededKib() {
        return MemlockLimit.kib(Math.max(0, lockedBytes) + requestedBytes);
    }
}
