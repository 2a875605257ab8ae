// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service.testing;

import dev.xpfo.stock.StockSettings;
import dev.xpfo.service.Service;
import dev.xpfo.service.ServiceSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/** Small services for tests: 2 MiB chunks, 16 MiB ready, 256 MiB maximum, no rate limit. */
public final class Services {
    public static final long CHUNK = 2L << 20;
    /**
     * A bound on waiting for a sweep ({@code Holdings.awaitSweep}) or another event that comes as soon
     * as the service gets to it: a safety net against a hung build, not a timing claim.
     */
    public static final Duration SWEEP = Duration.ofSeconds(30);

    /** Held so the level sticks (loggers are weakly referenced). */
    private static final Logger LOG = Logger.getLogger("dev.xpfo.service");

    static {
        // The service logs every grant at INFO; the tests keep warnings and worse.
        LOG.setLevel(Level.WARNING);
    }

    private Services() {
    }

    /** Silences the service's log (a fuzz test provokes thousands of warnings on purpose). */
    public static void quiet(boolean quiet) {
        LOG.setLevel(quiet ? Level.OFF : Level.WARNING);
    }

    public static ServiceSettings small(Path directory) {
        return ServiceSettings.defaults(directory.resolve("xpfo.sock"))
                .withPool(StockSettings.of(CHUNK, 16L << 20, 256L << 20, 2))
                .withQuota(new ServiceSettings.Quota(256L << 20, 0));
    }

    /** Starts a service and waits for its stock to be warm. */
    public static Service started(ServiceSettings settings) {
        Service service = Service.start(settings);
        service.pool().warm((done, total) -> { });
        return service;
    }

    /**
     * Descriptors of the kinds the service opens and passes, open in this process now: sockets,
     * secret memory files, pipes and anonymous inodes. Files the JVM opens for itself on first use
     * (a jar, a random source) are not the service's to leak and are left out.
     */
    public static long openDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(Services::target).filter(t -> t.startsWith("socket:") || t.startsWith("/secretmem")
                    || t.startsWith("pipe:") || t.startsWith("anon_inode:")).count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String target(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile
        }
    }

    /**
     * Whether a service listens on {@code socket} (a connection is accepted), through the JDK's own Unix
     * sockets: the tests of other modules have no access to xpfo's socket type.
     */
    public static boolean answers(Path socket) {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return probe.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    /** Polls {@code condition} every 10 ms for up to {@code timeout}; true once it holds. */
    public static boolean eventually(Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(10);
        }
        return condition.getAsBoolean();
    }
}
