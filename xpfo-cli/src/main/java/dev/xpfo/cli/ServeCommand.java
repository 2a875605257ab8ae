// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.host.DumpableFlag;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.host.PhysicalMemory;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PopulateProgress;
import dev.xpfo.stock.StockSettings;
import dev.xpfo.stock.StockStats;
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

    @Option(names = "--socket-mode", defaultValue = "0600", paramLabel = "OCTAL", converter = OctalModeConverter.class,
            description = "Permission bits of the socket file (default: ${DEFAULT-VALUE}, owner only; 0660 with "
                    + "--socket-group lets a group in).")
    int socketMode;

    @Option(names = "--socket-group", paramLabel = "GROUP", converter = GroupConverter.class,
            description = "Group of the socket file.")
    String socketGroup;

    @Option(names = "--target", paramLabel = "BYTES", converter = SizeConverter.class, description = "Memory kept "
            + "populated and ready (default: 256M, at most the maximum).")
    Long target;

    @Option(names = "--maximum", paramLabel = "BYTES", converter = SizeConverter.class, description = "Ceiling on "
            + "ready plus granted memory, at most the machine's RAM (default: a quarter of RAM).")
    Long maximum;

    @Option(names = "--chunk", paramLabel = "BYTES", converter = SizeConverter.Chunk.class,
            description = "Size of each granted file, a multiple of 4K (default: 2M).")
    Long chunk;

    @Option(names = "--threads", paramLabel = "N", converter = CountConverter.class,
            description = "Populating threads (default: one per CPU, fewer if the memlock limit needs it).")
    Integer threads;

    @Option(names = "--max-grant", paramLabel = "BYTES", converter = SizeConverter.class,
            description = "Largest single grant (default: the maximum).")
    Long maxGrant;

    @Option(names = "--quota", paramLabel = "BYTES", converter = SizeConverter.class, description = "Granted and "
            + "unreleased bytes per uid (default: the maximum).")
    Long quotaBytes;

    @Option(names = "--rate", paramLabel = "N", defaultValue = "1000", converter = SecondsConverter.PerSecond.class,
            description = "Requests per second per uid; 0 for no limit (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--cold-deadline", paramLabel = "SECONDS", defaultValue = "10", converter = SecondsConverter.class,
            description = "How long a grant may wait for chunks populated on demand (default: ${DEFAULT-VALUE}).")
    double coldDeadline;

    @Option(names = "--max-clients", paramLabel = "N", defaultValue = "256", converter = CountConverter.class,
            description = "Connections served at once (default: ${DEFAULT-VALUE}).")
    int maxClients;

    @Option(names = "--max-clients-per-uid", paramLabel = "N", defaultValue = "32", converter = CountConverter.class,
            description = "Connections of one uid served at once (default: ${DEFAULT-VALUE}).")
    int maxClientsPerUid;

    @Option(names = "--idle-timeout", paramLabel = "SECONDS", defaultValue = "60", converter = SecondsConverter.class,
            description = "Closes a connection that holds no grant and makes or releases none for this long, "
                    + "whatever else it sends (default: ${DEFAULT-VALUE}).")
    double idleTimeout;

    @Option(names = "--metrics", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics; loopback only (default: off).")
    InetSocketAddress metrics;

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
        StockSettings pool = settings.pool();
        out.printf("xpfo serve: listening on %s%n", service.listening());
        out.printf("  chunks of %s; keeping %s ready (maximum %s); %d populating threads; per uid: %s outstanding, "
                        + "%s requests/s; metrics: %s%n",
                Bytes.format(pool.chunkBytes()), Bytes.format(pool.targetBytes()), Bytes.format(pool.maximumBytes()),
                pool.populateThreads(), Bytes.format(settings.quota().outstandingBytes()),
                settings.quota().requestsPerSecond() <= 0 ? "unlimited" : String.format("%.0f", settings.quota().requestsPerSecond()),
                service.metricsAddress());
        String note = memlockNote(MemlockLimit.current(), pool);
        if (note != null) {
            out.println(note);
        }
        out.flush();
        boolean terminal = System.console() != null && System.console().isTerminal();
        if (terminal) {
            WarmingBar.show("warming", pool.targetBytes(), progress -> service.pool().warm(progress), () -> !stopping());
        } else {
            service.pool().warm(PopulateProgress.NONE);
        }
        synchronized (lines) {
            if (!stopping) {
                StockStats stats = service.pool().stats();
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
        StockSettings defaultPool = defaults.pool();
        long ram = PhysicalMemory.totalBytes();
        long chunkBytes = chunk != null ? chunk : defaultPool.chunkBytes();
        // Every option checked here, before anything starts, in the options' own words.
        if (maximum != null && maximum > ram) {
            throw Failures.usage(spec, "--maximum " + Bytes.format(maximum) + " is more than this machine's memory ("
                    + Bytes.format(ram) + ")");
        }
        if (target != null && target > ram) {
            throw Failures.usage(spec, "--target " + Bytes.format(target) + " is more than this machine's memory ("
                    + Bytes.format(ram) + ")");
        }
        // Built in one step: a smaller maximum with the default target must lower the target, not fail.
        long maximumBytes = maximum != null ? maximum : defaultPool.maximumBytes();
        long targetBytes = target != null ? target : Math.min(defaultPool.targetBytes(), maximumBytes);
        String maximumOption = maximum != null ? "--maximum " + Bytes.format(maximumBytes)
                : "the default maximum, a quarter of this machine's memory (" + Bytes.format(maximumBytes) + ")";
        if (maximumBytes < chunkBytes) {
            throw Failures.usage(spec, maximumOption + " is less than one chunk (--chunk " + Bytes.format(chunkBytes) + ")");
        }
        if (targetBytes > maximumBytes) {
            throw Failures.usage(spec, "--target " + Bytes.format(targetBytes) + " is more than " + maximumOption);
        }
        if (idleTimeout < 0.001) {
            throw Failures.usage(spec, "--idle-timeout must be at least 0.001 seconds, not " + idleTimeout);
        }
        if (maxGrant != null && maxGrant > maximumBytes) {
            throw Failures.usage(spec, "--max-grant " + Bytes.format(maxGrant) + " is more than " + maximumOption);
        }
        StockSettings pool = StockSettings.of(chunkBytes, targetBytes, maximumBytes,
                populateThreads(chunkBytes, defaultPool.populateThreads()));
        long poolMaximum = pool.maximumBytes();
        return new ServiceSettings(defaults.socket(), socketMode, Optional.ofNullable(socketGroup), pool,
                maxGrant != null ? maxGrant : poolMaximum,
                new ServiceSettings.Quota(quotaBytes != null ? quotaBytes : poolMaximum, rate),
                Duration.ofMillis((long) (coldDeadline * 1000)), defaults.frameTimeout(), maxClients, maxClientsPerUid,
                Duration.ofMillis((long) (idleTimeout * 1000)), Optional.ofNullable(metrics));
    }

    /**
     * Populating threads that fit this process's memlock limit: each maps one chunk while it populates it
     * (the service keeps no mapping of its stock, so only those count). The default is lowered to fit; a
     * number given with --threads that does not fit is refused with one that does.
     */
    private int populateThreads(long chunkBytes, int defaultThreads) {
        MemlockLimit memlock = MemlockLimit.current();
        long room = memlock.roomBytes();
        if (room < chunkBytes) {
            throw Failures.usage(spec, "not even one chunk of " + Bytes.format(chunkBytes) + " fits this process's memlock "
                    + "limit (" + memlock.describe() + "), and populating a chunk maps it.\n  Fits: --chunk "
                    + sizeOption(Math.max(SizeConverter.Chunk.PAGE, room / SizeConverter.Chunk.PAGE * SizeConverter.Chunk.PAGE))
                    + " --threads 1, or raise the limit to " + memlock.neededKib(chunkBytes)
                    + " KiB:" + memlock.remedy(chunkBytes));
        }
        long fitting = Math.min(Integer.MAX_VALUE, room / chunkBytes);
        if (threads == null) {
            return (int) Math.min(defaultThreads, fitting);
        }
        if (threads > fitting) {
            throw Failures.usage(spec, "--threads " + threads + " would map " + threads + " chunks of "
                    + Bytes.format(chunkBytes) + " at once while populating, more than this process's memlock limit ("
                    + memlock.describe() + ").\n  Fits: --threads " + fitting + ", or raise the limit to "
                    + memlock.neededKib(threads * chunkBytes) + " KiB:" + memlock.remedy(threads * chunkBytes));
        }
        return threads;
    }

    /** A page multiple as an option's value: {@code 8M}, {@code 12K}. */
    private static String sizeOption(long bytes) {
        return bytes % Bytes.GIB == 0 ? bytes / Bytes.GIB + "G" : bytes % Bytes.MIB == 0 ? bytes / Bytes.MIB + "M"
                : bytes / Bytes.KIB + "K";
    }

    /**
     * What an operator under a small memlock limit should know, or null: a client of this user can map at
     * most the limit at once, so a stock larger than that serves it only in parts; a target and thread count
     * that fit.
     */
    static String memlockNote(MemlockLimit memlock, StockSettings pool) {
        if (!memlock.limited() || memlock.soft() >= pool.targetBytes()) {
            return null;
        }
        long fits = Math.max(pool.chunkBytes(), memlock.soft() / pool.chunkBytes() * pool.chunkBytes());
        return "xpfo serve: note: this user's memlock limit is " + Bytes.format(memlock.soft()) + " (ulimit -l "
                + MemlockLimit.ulimitUnits(memlock.soft()) + "): a process of this user maps at most that much secret "
                + "memory at once, so `xpfo alloc` as this user can take at most " + Bytes.format(memlock.soft())
                + "; the service itself maps only the chunks it is populating (" + pool.populateThreads() + " of "
                + Bytes.format(pool.chunkBytes()) + ").\n  A stock that fits such a client: --target "
                + sizeOption(fits) + " --threads "
                + Math.max(1, Math.min(pool.populateThreads(), fits / pool.chunkBytes()))
                + "; for more, raise the limit (see `xpfo probe`).";
    }
}
