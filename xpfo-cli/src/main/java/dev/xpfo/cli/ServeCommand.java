package dev.xpfo.cli;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.host.DumpableFlag;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.pool.FilePoolSettings;
import dev.xpfo.pool.FilePoolStats;
import dev.xpfo.service.Service;
import dev.xpfo.service.ServiceSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code xpfo serve}: the service that hands warm direct-map-free memory to other processes. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Keeps a warm stock of memory removed from the kernel's direct map (populated secret memory "
                + "files) and grants it to other processes over a Unix socket: the userspace /dev/xpfo. "
                + "Runs with embedded defaults; every option below only changes one.",
                "Clients: XpfoClient (Java), clients/c/xpfo_client.c (C), `xpfo alloc`. Protocol: docs/protocol.md. "
                        + "Stops cleanly on SIGTERM or Ctrl-C."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", description = "Where to listen (default: $XPFO_SOCKET; root: "
            + "/run/xpfo/xpfo.sock; others: $XDG_RUNTIME_DIR/xpfo/xpfo.sock or /tmp/xpfo-UID/xpfo.sock).")
    Path socket;

    @Option(names = "--socket-mode", defaultValue = "0600", paramLabel = "OCTAL",
            description = "Permission bits of the socket file (default: ${DEFAULT-VALUE}, owner only; 0660 with "
                    + "--socket-group lets a group in).")
    String socketMode;

    @Option(names = "--socket-group", paramLabel = "GROUP", description = "Group of the socket file.")
    String socketGroup;

    @Option(names = "--target", paramLabel = "BYTES", description = "Memory kept populated and ready (default: 256M, "
            + "at most the maximum).")
    String target;

    @Option(names = "--maximum", paramLabel = "BYTES", description = "Ceiling on ready plus granted memory (default: "
            + "a quarter of RAM).")
    String maximum;

    @Option(names = "--chunk", paramLabel = "BYTES", description = "Size of each granted file (default: 2M).")
    String chunk;

    @Option(names = "--threads", paramLabel = "N", description = "Populating threads (default: one per CPU).")
    Integer threads;

    @Option(names = "--max-grant", paramLabel = "BYTES", description = "Largest single grant (default: the maximum).")
    String maxGrant;

    @Option(names = "--quota", paramLabel = "BYTES", description = "Granted and unreleased bytes per uid (default: "
            + "the maximum).")
    String quotaBytes;

    @Option(names = "--rate", paramLabel = "N", defaultValue = "1000",
            description = "Requests per second per uid; 0 for no limit (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--cold-deadline", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long a grant may wait for chunks populated on demand (default: ${DEFAULT-VALUE}).")
    double coldDeadline;

    @Option(names = "--max-clients", paramLabel = "N", defaultValue = "256",
            description = "Connections served at once (default: ${DEFAULT-VALUE}).")
    int maxClients;

    @Option(names = "--max-clients-per-uid", paramLabel = "N", defaultValue = "32",
            description = "Connections of one uid served at once (default: ${DEFAULT-VALUE}).")
    int maxClientsPerUid;

    @Option(names = "--idle-timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "Closes a connection that holds no grant and sends no request for this long "
                    + "(default: ${DEFAULT-VALUE}).")
    double idleTimeout;

    @Option(names = "--metrics", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics; loopback only (default: off).")
    String metrics;

    @Spec
    CommandSpec spec;

    /** Orders the lines of this thread and the shutdown hook: "ready" is printed before "stopping" or never. */
    private final Object lines = new Object();
    /** Set, under {@link #lines}, when the shutdown hook has said "stopping". */
    private boolean stopping;

    @Override
    public Integer call() throws InterruptedException {
        ServiceSettings settings = settings();
        PrintWriter out = spec.commandLine().getOut();
        long started = System.nanoTime();
        // Before the first secret memory file exists: from here on, only root can copy this process's descriptors.
        DumpableFlag.clearForThisProcess();
        Service service = Service.start(settings);
        // Printed rather than logged: the JDK's log manager shuts its handlers in a hook of its own.
        Thread hook = new Thread(() -> {
            synchronized (lines) {
                stopping = true;
                out.printf("xpfo serve: stopping: no new connections; %d clients finishing their requests%n", service.clients());
                out.flush();
            }
            service.close(); // also ends a warm still under way, which then returns early
            out.printf("xpfo serve: stopped; socket removed, stock released%n");
            out.flush();
        }, "xpfo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        FilePoolSettings pool = settings.pool();
        out.printf("xpfo serve: listening on %s%n", service.listening());
        out.printf("  chunks of %s; keeping %s ready (maximum %s); %d populating threads; per uid: %s outstanding, "
                        + "%s requests/s; metrics: %s%n",
                Bytes.format(pool.chunkBytes()), Bytes.format(pool.targetBytes()), Bytes.format(pool.maximumBytes()),
                pool.populateThreads(), Bytes.format(settings.quota().outstandingBytes()),
                settings.quota().requestsPerSecond() <= 0 ? "unlimited" : String.format("%.0f", settings.quota().requestsPerSecond()),
                service.metricsAddress());
        out.flush();
        boolean terminal = System.console() != null && System.console().isTerminal();
        if (terminal) {
            WarmingBar.show("warming", pool.targetBytes(), progress -> service.pool().warm(progress), () -> !stopping());
        } else {
            service.pool().warm(PopulateProgress.NONE);
        }
        synchronized (lines) {
            if (!stopping) {
                FilePoolStats stats = service.pool().stats();
                double seconds = (System.nanoTime() - started) / 1e9;
                out.printf("ready: %s warm in %s files (populated in %.2f s); serving. Stop with SIGTERM or Ctrl-C.%n",
                        Bytes.format(stats.readyBytes()), stats.readyBytes() / stats.chunkBytes(), seconds);
                out.flush();
            }
        }
        service.awaitStopped();
        return 0;
    }

    private boolean stopping() {
        synchronized (lines) {
            return stopping;
        }
    }

    ServiceSettings settings() {
        ServiceSettings defaults = ServiceSettings.defaults(socket != null ? socket : ServiceSocket.defaultPath());
        FilePoolSettings defaultPool = defaults.pool();
        // Built in one step: a smaller maximum with the default target must lower the target, not fail.
        long maximumBytes = maximum != null ? Bytes.parse(maximum) : defaultPool.maximumBytes();
        long targetBytes = target != null ? Bytes.parse(target) : Math.min(defaultPool.targetBytes(), maximumBytes);
        FilePoolSettings pool = FilePoolSettings.of(chunk != null ? Bytes.parse(chunk) : defaultPool.chunkBytes(),
                targetBytes, maximumBytes, threads != null ? threads : defaultPool.populateThreads());
        long poolMaximum = pool.maximumBytes();
        return new ServiceSettings(defaults.socket(), Integer.parseInt(socketMode, 8), Optional.ofNullable(socketGroup), pool,
                maxGrant != null ? Bytes.parse(maxGrant) : poolMaximum,
                new ServiceSettings.Quota(quotaBytes != null ? Bytes.parse(quotaBytes) : poolMaximum, rate),
                Duration.ofMillis((long) (coldDeadline * 1000)), defaults.frameTimeout(), maxClients, maxClientsPerUid,
                Duration.ofMillis((long) (idleTimeout * 1000)), Optional.ofNullable(metrics).map(ServeCommand::address));
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--metrics takes HOST:PORT, e.g. 127.0.0.1:9464, not " + hostPort);
        }
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
    }
}
