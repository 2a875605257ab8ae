package dev.xpfo.service;

import dev.xpfo.host.BackgroundPriority;
import dev.xpfo.host.SecretMemoryHolders;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Grants whose receiver let go (RELEASE) or whose connection ended, whose files may still be held: a
 * receiver can keep a descriptor or a mapping, or pass the descriptor on, and the memory lives as long
 * as any of that. A grant counts against its user's quota and the stock's maximum until no process
 * holds its files.
 *
 * <ul>
 *   <li>RELEASE: the grant is freed at once, on the client's word, and queued for the next scan of
 *       every process, which charges it again if any process still holds one of its files (a mapping
 *       kept, a descriptor kept or passed on).</li>
 *   <li>A closed connection: its grants stay charged until a scan finds none of their files.</li>
 * </ul>
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

    private final Consumer<Grant> free;
    private final Consumer<Grant> charge;
    /** Still charged; freed when a scan finds none of their files. */
    private final Map<Long, Grant> pending = new HashMap<>();
    /** Freed on the releasing process's word; charged again if a scan finds their files elsewhere. */
    private final Map<Long, Grant> toVerify = new HashMap<>();
    private final Thread sweeper;
    private boolean closed;

    /**
     * @param free   called when a grant stops counting
     * @param charge called when a grant freed on RELEASE turns out to be still held after all
     */
    Holdings(Consumer<Grant> free, Consumer<Grant> charge) {
        this.free = free;
        this.charge = charge;
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

    /** The receiver says it let go of the grant: it stops counting now, and the next scan verifies. */
    synchronized void release(Grant grant) {
        free.accept(grant);
        toVerify.put(grant.id(), grant);
        notifyAll();
    }

    /** True if nothing waits to be scanned for (the sweeper is idle). */
    synchronized boolean idle() {
        return nothingToDo();
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
            }
            Set<Long> held;
            try {
                held = SecretMemoryHolders.scan().inodes();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "could not scan for held secret memory: " + e.getMessage());
                held = null;
            }
            lastScan = System.nanoTime();
            synchronized (this) {
                if (held == null) {
                    toVerify.putAll(verifying);
                    continue;
                }
                for (Grant grant : stillCharged.values()) {
                    if (grant.inodes().stream().noneMatch(held::contains) && pending.remove(grant.id()) != null) {
                        free.accept(grant);
                    }
                }
                for (Grant grant : verifying.values()) {
                    if (grant.inodes().stream().anyMatch(held::contains)) {
                        LOG.log(System.Logger.Level.WARNING, "grant " + grant.id() + " of uid " + grant.uid()
                                + " was released but some process still holds its files: charged again until they are closed");
                        charge.accept(grant);
                        pending.put(grant.id(), grant);
                    }
                }
            }
        }
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
