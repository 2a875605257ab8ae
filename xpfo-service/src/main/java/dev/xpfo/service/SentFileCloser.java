// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.host.BackgroundPriority;
import dev.xpfo.memory.XpfoFile;

import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Closes the service's own descriptors of files it has sent, on a background thread at the lowest CPU
 * priority rather than on the connection's thread.
 *
 * <p>Why: whoever drops the last reference to a secret memory file pays for freeing its memory (the
 * kernel zeroes every page and puts it back in the direct map: milliseconds for a 64 MiB grant). A
 * receiver that closes its descriptors as soon as they arrive (a client that maps nothing, or lets go at
 * once) often closes them before the service has closed its copies, and the service's connection
 * thread then spent that time freeing memory instead of reading the client's next request.
 *
 * <p>At most {@link #CAPACITY} files wait; past that a caller closes its files itself, so descriptors
 * and memory never pile up behind a starved background thread. A file waiting here is already in the
 * receiver's hands: the service only holds one more reference to it, as it did until the send returned.
 */
final class SentFileCloser implements AutoCloseable {
    /** 2 GiB of 2 MiB chunks: far more than a busy service sends between two time slices of this thread. */
    static final int CAPACITY = 1024;

    private final BlockingQueue<XpfoFile> waiting;
    private final Thread thread;
    private volatile boolean stopped;

    SentFileCloser() {
        this(CAPACITY);
    }

    /** @param capacity files that may wait at once (tests use a small one) */
    SentFileCloser(int capacity) {
        this.waiting = new ArrayBlockingQueue<>(capacity);
        this.thread = new Thread(() -> {
            BackgroundPriority.lowerCallingThread();
            run();
        }, "xpfo-close-sent");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Closes {@code files} soon, off the calling thread; whatever does not fit (or after stop) closes now. */
    void closeLater(List<XpfoFile> files) {
        for (XpfoFile file : files) {
            if (stopped || !waiting.offer(file)) {
                file.close();
            }
        }
        if (stopped) {
            drain(); // stopped while offering: the thread may be gone, and close() may have drained already
        }
    }

    private void run() {
        try {
            while (true) {
                waiting.take().close();
            }
        } catch (InterruptedException e) {
            drain(); // stopping
        }
    }

    private void drain() {
        XpfoFile file;
        while ((file = waiting.poll()) != null) {
            file.close();
        }
    }

    /** Closes every waiting file before returning; later calls to {@link #closeLater} close at once. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drain(); // whatever the thread left, and anything offered while it stopped
    }
}
