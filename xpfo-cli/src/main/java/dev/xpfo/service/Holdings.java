package dev.xpfo.service;

import dev.xpfo.host.BackgroundPriority;
import dev.xpfo.host.SecretMemoryHolders;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Grants whose receiver let go (RELEASE) or whose connection ended, whose files may still be held: a
 * receiver can keep a descriptor or a mapping, or pass the descriptor on, and the memory lives as long
 * as any of that. A grant counts against its user's quota and the stock's maximum until no process
 * holds its files.
 *
 * <ul>
 *   <li>RELEASE: the user's quota is freed at once, on the client's word, and the grant is queued for
 *       the next scan of every process, which charges the quota again if any process still holds one
 *       of its files (a mapping kept, a descriptor kept or passed on). The stock's maximum is given
 *       back only when a scan confirms, so it is never passed.</li>
 *   <li>A closed connection: its grants stay charged until a scan finds none of their files.</li>
 * </ul>
 * A process the service may not inspect (another user's, without {@code CAP_SYS_PTRACE}) is assumed
 * to hold every grant of its owner.
 * A sweeper thread, at the lowest CPU priority, scans every process ({@link SecretMemoryHolders#scan()})
 * at most once a second while anything is pending or queued: a constant cost, whatever the rate of
 * releases. So keeping the memory while closing the connection or sending RELEASE escapes neither
 * limit for longer than about a second.
 */
final class Holdings implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    private static final long SCAN_INTERVAL_NANOS = 1_000_000_000L;

    /** A grant's accounting: who is charged, how much, and the inodes of its files. */
    record Grant(long id, int uid, int chunks, Set<Long> inodes) {
    }

    private final Consumer<Grant> freeQuota;
    private final Consumer<Grant> freeStock;
    private final Consumer<Grant> chargeQuota;
    private final Supplier<SecretMemoryHolders> scanner;
    /** Still charged; freed when a scan finds none of their files. */
    private final Map<Long, Grant> pending = new HashMap<>();
    /** Freed on the releasing process's word; charged again if a scan finds their files elsewhere. */
    private final Map<Long, Grant> toVerify = new HashMap<>();
    private final Thread sweeper;
    private boolean closed;
    /** A scan is being applied: what it took from the queues is not settled yet. */
    private boolean scanning;
    private final Set<Set<Integer>> unreadableWarned = new HashSet<>();

    /**
     * @param freeQuota   a grant stops counting against its user's quota
     * @param freeStock   a grant stops counting against the stock's maximum (always after {@code freeQuota})
     * @param chargeQuota a grant whose quota was freed on RELEASE turns out to be held after all
     * @param scanner     reads which files are held ({@link SecretMemoryHolders#scan()})
     */
    Holdings(Consumer<Grant> freeQuota, Consumer<Grant> freeStock, Consumer<Grant> chargeQuota,
             Supplier<SecretMemoryHolders> scanner) {
        this.freeQuota = freeQuota;
        this.freeStock = freeStock;
        this.chargeQuota = chargeQuota;
        this.scanner = scanner;
        this.sweeper = new Thread(() -> {
            BackgroundPriority.lowerCallingThread();
            sweep();
        }, "xpfo-sweep");
        this.sweeper.setDaemon(true);
        this.sweeper.start();
    }

    /** The connection ended: the grant stays charged until its files are gone. */
    synchronized void detach(Grant grant) {
        pending.put(grant.id(), grant);
        notifyAll();
    }

    /** The receiver says it let go of the grant: its quota is freed now, and the next scan verifies. */
    synchronized void release(Grant grant) {
        freeQuota.accept(grant);
        toVerify.put(grant.id(), grant);
        notifyAll();
    }

    /** True if nothing waits to be scanned for (the sweeper is idle). */
    synchronized boolean idle() {
        return nothingToDo() && !scanning;
    }

    /** Grants released or abandoned whose files some process still holds (for status). */
    synchronized int pendingGrants() {
        return pending.size();
    }

    private void sweep() {
        long lastScan = System.nanoTime() - SCAN_INTERVAL_NANOS;
        while (true) {
            Map<Long, Grant> stillCharged;
            Map<Long, Grant> verifying;
            synchronized (this) {
                try {
                    while (!closed && (nothingToDo() || System.nanoTime() - lastScan < SCAN_INTERVAL_NANOS)) {
                        long left = SCAN_INTERVAL_NANOS - (System.nanoTime() - lastScan);
                        if (nothingToDo() || left <= 0) {
                            wait(nothingToDo() ? 0 : 1);
                        } else {
                            wait(Math.max(1, left / 1_000_000));
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (closed) {
                    return;
                }
                stillCharged = new HashMap<>(pending);
                verifying = new HashMap<>(toVerify);
                toVerify.clear();
                scanning = true;
            }
            try {
                settle(stillCharged, verifying, scanner.get());
            } catch (RuntimeException | Error e) {
                // Never die: a dead sweeper would keep every pending grant charged for good.
                LOG.log(System.Logger.Level.WARNING, "scan for held secret memory failed; retrying", e);
                synchronized (this) {
                    toVerify.putAll(verifying);
                }
            }
            synchronized (this) {
                scanning = false;
            }
            lastScan = System.nanoTime();
        }
    }

    /** Applies one scan: frees what nobody holds, charges again what was released but is held. */
    private synchronized void settle(Map<Long, Grant> stillCharged, Map<Long, Grant> verifying, SecretMemoryHolders scan) {
        for (Grant grant : stillCharged.values()) {
            if (!held(grant, scan) && pending.remove(grant.id()) != null) {
                freeQuota.accept(grant);
                freeStock.accept(grant);
            }
        }
        for (Grant grant : verifying.values()) {
            if (held(grant, scan)) {
                LOG.log(System.Logger.Level.WARNING, "grant " + grant.id() + " of uid " + grant.uid()
                        + " was released but may still be held: charged again until its files are closed");
                chargeQuota.accept(grant);
                pending.put(grant.id(), grant);
            } else {
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
        return pending.isEmpty() && toVerify.isEmpty();
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
