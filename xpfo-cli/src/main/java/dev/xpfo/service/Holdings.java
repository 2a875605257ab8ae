package dev.xpfo.service;

import dev.xpfo.host.SecretMemoryHolders;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Grants whose receiver said it let go (RELEASE) or whose connection ended, but whose files may still
 * be held: a receiver can keep a descriptor or a mapping, or pass the descriptor on, and the memory
 * lives as long as any of that. Such a grant keeps counting against its user's quota and the stock's
 * maximum until a scan of every process ({@link SecretMemoryHolders}) finds none of its files; a
 * sweeper thread rescans every second while any is pending. So closing a connection or sending
 * RELEASE while keeping the memory does not escape either limit.
 */
final class Holdings implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.xpfo.service");
    private static final long RESCAN_NANOS = 1_000_000_000L;

    /** A grant's accounting: who is charged, how much, and the inodes of its files. */
    record Grant(long id, int uid, int chunks, Set<Long> inodes) {
    }

    private final Consumer<Grant> free;
    private final Map<Long, Grant> pending = new HashMap<>();
    private final Thread sweeper;
    private long scansStarted;
    private long scansFinished;
    private long waiting;
    private boolean closed;

    /** @param free called once per grant when none of its files is held any more */
    Holdings(Consumer<Grant> free) {
        this.free = free;
        this.sweeper = new Thread(this::sweep, "xpfo-sweep");
        this.sweeper.setDaemon(true);
        this.sweeper.start();
    }

    /** The grant stays charged until its files are gone; the sweeper watches it. */
    synchronized void detach(Grant grant) {
        pending.put(grant.id(), grant);
        notifyAll();
    }

    /**
     * The receiver says it let go of the grant: waits for a scan that starts after now and tells
     * whether the grant was freed by it (true) or is still held somewhere (false; it stays pending).
     */
    synchronized boolean release(Grant grant) throws InterruptedException {
        pending.put(grant.id(), grant);
        long ticket = scansStarted;
        waiting++;
        notifyAll();
        try {
            // A scan that began before this call may have missed the receiver's last close.
            while (!closed && scansFinished <= ticket) {
                wait();
            }
        } finally {
            waiting--;
        }
        return !pending.containsKey(grant.id());
    }

    /** Grants released or abandoned whose files some process still holds (for status). */
    synchronized int pendingGrants() {
        return pending.size();
    }

    private void sweep() {
        long lastScan = 0;
        while (true) {
            Map<Long, Grant> snapshot;
            long scan;
            synchronized (this) {
                try {
                    while (!closed && (pending.isEmpty() || (waiting == 0 && System.nanoTime() - lastScan < RESCAN_NANOS))) {
                        if (pending.isEmpty()) {
                            wait();
                        } else {
                            long left = RESCAN_NANOS - (System.nanoTime() - lastScan);
                            wait(Math.max(1, left / 1_000_000));
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (closed) {
                    return;
                }
                scan = ++scansStarted;
                snapshot = new HashMap<>(pending);
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
                if (held != null) {
                    for (Grant grant : snapshot.values()) {
                        if (grant.inodes().stream().noneMatch(held::contains)) {
                            pending.remove(grant.id());
                            free.accept(grant);
                        }
                    }
                }
                scansFinished = scan;
                notifyAll();
            }
        }
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
