// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.host.BackgroundPriority;
import dev.xpfo.host.SecretMemoryHolders;

import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Grants whose receiver let go (RELEASE) or whose connection ended, whose memory may still be alive:
 * a receiver can keep a descriptor or a mapping, pass the descriptor on, park it in a Unix socket's
 * queue or register it with io_uring, and the memory lives as long as any of that. Such a grant keeps
 * counting against its user's quota and the stock's maximum until the kernel's count confirms its
 * memory is gone:
 *
 * <ul>
 *   <li>The kernel's count ({@link KernelSurplus}, from the service's memory cgroup) says how many of
 *       the charged bytes (ready stock plus every grant still charged) are no longer alive. Grants are
 *       confirmed gone in the order they were let go while that surplus covers them; a confirmed grant
 *       stops counting against its user's quota and the stock's maximum.</li>
 *   <li>The scan of every process ({@link SecretMemoryHolders#scan}) can only add: a grant whose file
 *       it sees mapped or open somewhere, or whose owner has processes it may not inspect, is not
 *       confirmed, whatever the surplus. It never proves a grant gone.</li>
 *   <li>Without a kernel count (no memory cgroup of the service's own), the scan alone decides: a grant
 *       none of whose files it sees is taken as gone. Descriptors in a socket's queue or io_uring's
 *       fixed files escape it; the service says so at start, in status and in its metrics.</li>
 * </ul>
 * The surplus is one number for all grants, so which grant it confirms is decided by order, not by
 * file: a user whose released memory is alive (and unseen) can be confirmed in place of another user's
 * grant that is really gone, which then stays charged. The total stays exact ({@code docs/protocol.md},
 * "Releasing").
 * A sweeper thread, at the lowest CPU priority, scans every process and reads the kernel's count at
 * most once per scan interval ({@link #SCAN_INTERVAL}, one second) while anything is pending. Each
 * sweep is numbered, so a caller can wait for the sweep that follows what it did
 * ({@link #awaitSweep}) instead of guessing how long one takes.
 */
final class Holdings implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    /** How often the sweeper scans at most while something is pending, unless told otherwise. */
    static final Duration SCAN_INTERVAL = Duration.ofSeconds(1);

    /** A grant's accounting: who is charged, how much, and the inodes of its files. */
    record Grant(long id, int uid, int chunks, Set<Long> inodes) {
    }

    /** How many charged chunks the kernel says are no longer alive. */
    @FunctionalInterface
    interface KernelSurplus {
        /** No kernel count: the scan alone decides. */
        KernelSurplus NONE = new KernelSurplus() {
            @Override
            public OptionalLong settledChunks() {
                return OptionalLong.empty();
            }

            @Override
            public boolean counts() {
                return false;
            }
        };

        /** Charged chunks the kernel no longer holds; empty if its count cannot be read. */
        OptionalLong settledChunks();

        default boolean counts() {
            return true;
        }

        /** Held while a surplus is read and used, so that no other reader uses it twice. */
        default Object confirmationLock() {
            return this;
        }
    }

    private final Consumer<Grant> freeQuota;
    private final Consumer<Grant> freeStock;
    private final Supplier<SecretMemoryHolders> scanner;
    private final KernelSurplus kernel;
    private final long scanIntervalNanos;
    /** Let go of and still charged, in the order they were let go. */
    private final Map<Long, Grant> pending = new LinkedHashMap<>();
    private final Set<Long> heldWarned = new HashSet<>();
    private final Thread sweeper;
    private boolean closed;
    /** A scan is being applied: what it took from the queues is not settled yet. */
    private boolean scanning;
    /** Sweeps begun, and sweeps finished (applied or failed): the sweeper runs one at a time. */
    private long sweepsBegun;
    private long sweepsFinished;
    private final Set<Set<Integer>> unreadableWarned = new HashSet<>();

    /**
     * @param freeQuota a grant stops counting against its user's quota
     * @param freeStock a grant stops counting against the stock's maximum (always after {@code freeQuota})
     * @param scanner   reads which files are held ({@link SecretMemoryHolders#scan})
     * @param kernel    the kernel's count, or {@link KernelSurplus#NONE}
     */
    Holdings(Consumer<Grant> freeQuota, Consumer<Grant> freeStock, Supplier<SecretMemoryHolders> scanner,
             KernelSurplus kernel) {
        this(freeQuota, freeStock, scanner, kernel, SCAN_INTERVAL);
    }

    /**
     * @param scanInterval the least time from the end of one sweep to the start of the next (a scan of
     *                     every process costs CPU time; tests shorten it)
     */
    Holdings(Consumer<Grant> freeQuota, Consumer<Grant> freeStock, Supplier<SecretMemoryHolders> scanner,
             KernelSurplus kernel, Duration scanInterval) {
        if (scanInterval.isNegative() || scanInterval.isZero()) {
            throw new IllegalArgumentException("the scan interval must be positive, not " + scanInterval);
        }
        this.scanIntervalNanos = scanInterval.toNanos();
        this.freeQuota = freeQuota;
        this.freeStock = freeStock;
        this.scanner = scanner;
        this.kernel = kernel;
        this.sweeper = new Thread(() -> {
            BackgroundPriority.lowerCallingThread();
            sweep();
        }, "xpfo-sweep");
        this.sweeper.setDaemon(true);
        this.sweeper.start();
    }

    /** The connection ended: the grant stays charged until its memory is gone. */
    synchronized void detach(Grant grant) {
        pending.put(grant.id(), grant);
        notifyAll();
    }

    /** The receiver says it let go of the grant: it stays charged until its memory is confirmed gone. */
    synchronized void release(Grant grant) {
        pending.put(grant.id(), grant);
        notifyAll();
    }

    /**
     * Waits until {@code fits} holds (tried now and after every sweep) while {@code uid} has grants
     * waiting to be confirmed gone, for up to {@code patience}: a client that released memory and asks
     * again at once waits for the confirmation instead of being refused.
     *
     * @return whether {@code fits} held
     */
    synchronized boolean awaitConfirmed(int uid, BooleanSupplier fits, Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!fits.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (closed || left <= 0 || pending.values().stream().noneMatch(g -> g.uid() == uid)) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /**
     * Waits until a sweep that begins after this call has been applied (or has failed), for up to
     * {@code patience}: whatever was released, detached or changed before the call has been looked at
     * by then. Sweeps run only while something is pending.
     *
     * @return false if no such sweep finished within {@code patience} or the holdings closed
     */
    synchronized boolean awaitSweep(Duration patience) throws InterruptedException {
        long target = sweepsBegun + 1;
        long deadline = System.nanoTime() + patience.toNanos();
        while (sweepsFinished < target) {
            long left = deadline - System.nanoTime();
            if (closed || left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** True if nothing waits to be scanned for (the sweeper is idle). */
    synchronized boolean idle() {
        return nothingToDo() && !scanning;
    }

    /** Chunks of {@code uid}'s grants let go of and not yet confirmed gone. */
    synchronized long pendingChunks(int uid) {
        return pending.values().stream().filter(g -> g.uid() == uid).mapToLong(Grant::chunks).sum();
    }

    /** Grants released or abandoned and not yet confirmed gone (for status). */
    synchronized int pendingGrants() {
        return pending.size();
    }

    private void sweep() {
        long lastScan = System.nanoTime() - scanIntervalNanos;
        while (true) {
            Map<Long, Grant> stillCharged;
            synchronized (this) {
                try {
                    // Woken by a release or detach, and by close; otherwise asleep until the interval is up.
                    while (!closed) {
                        long left = scanIntervalNanos - (System.nanoTime() - lastScan);
                        if (!nothingToDo() && left <= 0) {
                            break;
                        }
                        if (nothingToDo()) {
                            wait();
                        } else {
                            TimeUnit.NANOSECONDS.timedWait(this, left);
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (closed) {
                    return;
                }
                stillCharged = new LinkedHashMap<>(pending);
                scanning = true;
                sweepsBegun++;
            }
            try {
                SecretMemoryHolders scan = scanner.get();
                synchronized (kernel.confirmationLock()) {
                    settle(stillCharged, scan, kernel.settledChunks());
                }
            } catch (RuntimeException | Error e) {
                // Never die: a dead sweeper would keep every pending grant charged for good.
                LOG.log(System.Logger.Level.WARNING, "scan for held secret memory failed; retrying", e);
            }
            synchronized (this) {
                scanning = false;
                sweepsFinished++;
                notifyAll();
            }
            lastScan = System.nanoTime();
        }
    }

    /**
     * Applies one sweep: confirms gone, in the order they were let go, the grants no process is seen
     * holding while the kernel's surplus covers them (the scan alone, without a kernel count).
     */
    private synchronized void settle(Map<Long, Grant> stillCharged, SecretMemoryHolders scan, OptionalLong surplus) {
        long left = surplus.orElse(0);
        for (Grant grant : stillCharged.values()) {
            if (held(grant, scan)) {
                if (heldWarned.add(grant.id())) {
                    LOG.log(System.Logger.Level.WARNING, "grant " + grant.id() + " of uid " + grant.uid()
                            + " was let go of but is still held: it counts until its files are closed");
                }
                continue;
            }
            if (kernel.counts()) {
                if (surplus.isEmpty() || left < grant.chunks()) {
                    continue;
                }
                left -= grant.chunks();
            }
            if (pending.remove(grant.id()) != null) {
                heldWarned.remove(grant.id());
                freeQuota.accept(grant);
                freeStock.accept(grant);
            }
        }
        if (!scan.unreadableUids().isEmpty() && unreadableWarned.add(scan.unreadableUids())) {
            LOG.log(System.Logger.Level.WARNING, "cannot inspect the processes of uids " + scan.unreadableUids()
                    + ": grants to those users count until they disconnect and their processes can be seen; run the "
                    + "service as root or with CAP_SYS_PTRACE (the systemd unit grants it)");
        }
    }

    /** Whether the grant may still be held: a file of it is seen, or its owner has processes not seen into. */
    private static boolean held(Grant grant, SecretMemoryHolders scan) {
        return scan.unreadableUids().contains(grant.uid()) || grant.inodes().stream().anyMatch(scan.inodes()::contains);
    }

    private boolean nothingToDo() {
        return pending.isEmpty();
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            sweeper.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
