// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import com.sun.net.httpserver.HttpServer;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.metrics.Metric;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Protocol;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The service's metrics in a Micrometer registry, served in Prometheus text format on a loopback
 * address ({@code --metrics 127.0.0.1:PORT}). One name per quantity: "granted" only for what grants
 * handed over in total ({@code xpfo_grants_total}, {@code xpfo_granted_bytes_total}), "outstanding"
 * for what is handed out now and not yet confirmed gone ({@code xpfo_outstanding_bytes}). Every
 * family is registered when the service starts, so each has its HELP line and a sample from the first
 * scrape (at zero); quantities that change are counters, never rates computed here (the scraper's
 * {@code rate()} does that over any window); grant latency is a classic histogram with fixed buckets,
 * so it adds up across hosts. The README's "Metrics" table lists every family.
 */
final class ServiceMetrics implements AutoCloseable {
    /**
     * Upper bounds of the grant latency buckets: a warm grant takes well under a millisecond, a cold
     * one up to its deadline (10 s by default). Fixed, so histograms from many hosts add up.
     */
    static final List<Duration> GRANT_BUCKETS = List.of(Duration.ofNanos(100_000), Duration.ofNanos(250_000),
            Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofNanos(2_500_000), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
            Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30));

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Service service;
    private final Timer grantDuration;
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private HttpServer server;
    private volatile List<Metric> stockReadings;

    ServiceMetrics(Service service) {
        this.service = service;
        for (Metric metric : service.pool().metrics()) {
            // Micrometer names: the Prometheus registry adds "_total" to counters and turns dots into underscores.
            String name = metric.name().replaceFirst("_total$", "").replace('_', '.');
            if (metric.kind() == Metric.Kind.COUNTER) {
                FunctionCounter.builder(name, this, m -> m.read(metric.name())).description(metric.help()).register(registry);
            } else {
                Gauge.builder(name, this, m -> m.read(metric.name())).description(metric.help()).register(registry);
            }
        }
        FunctionCounter.builder("xpfo.grants", service, Service::grantsTotal).description("Grants made")
                .register(registry);
        FunctionCounter.builder("xpfo.granted.bytes", service, Service::grantedBytesTotal)
                .description("Bytes handed over by grants, all grants together").register(registry);
        for (ErrorCode code : ErrorCode.values()) {
            FunctionCounter.builder("xpfo.refusals", service, s -> s.refusalsTotal(code)).tag("code", code.name())
                    .description("Requests and connections refused, by error code").register(registry);
        }
        Gauge.builder("xpfo.clients", service, Service::clients).description("Clients connected now").register(registry);
        FunctionCounter.builder("xpfo.connections", service, Service::clientsTotal)
                .description("Client connections accepted").register(registry);
        Gauge.builder("xpfo.kernel.counting", service, s -> s.kernel().counts() ? 1 : 0)
                .description("1 if the kernel counts the service's secret memory (a memory cgroup of its own); 0 if "
                        + "the maximum and the quotas rest on a scan of /proc alone, which parked descriptors escape")
                .register(registry);
        Gauge.builder("xpfo.kernel.counted.bytes", service, s -> s.kernel().countNow())
                .description("Secret memory the service populated and the kernel has not freed, wherever its files "
                        + "went (its memory cgroup's unevictable bytes); -1 if not counted").register(registry);
        this.grantDuration = Timer.builder("xpfo.grant.duration")
                .description("From a GRANT's arrival to its last CHUNKS frame sent, for grants made")
                .serviceLevelObjectives(GRANT_BUCKETS.toArray(Duration[]::new)).register(registry);
        Gauge.builder("xpfo.build.info", () -> 1).description("The running xpfo: its version and protocol version")
                .tag("version", version()).tag("protocol", Integer.toString(Protocol.VERSION)).register(registry);
        new JvmInfoMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    /** The version Maven built ({@code build.properties}, filtered at build time). */
    static String version() {
        try (InputStream in = ServiceMetrics.class.getResourceAsStream("build.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One reading of the stock per scrape, taken under its lock once rather than once per meter. */
    private double read(String name) {
        List<Metric> readings = stockReadings;
        if (readings == null) {
            readings = service.pool().metrics();
        }
        return readings.stream().filter(m -> m.name().equals(name)).findFirst().map(Metric::value).orElse(0L);
    }

    void granted(long nanos) {
        grantDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The metrics in Prometheus text format, read now. */
    synchronized String scrape() {
        stockReadings = service.pool().metrics();
        try {
            return registry.scrape();
        } finally {
            stockReadings = null;
        }
    }

    /** Serves {@code GET /metrics} on {@code address}, which must be a loopback address. */
    void serve(InetSocketAddress address) {
        if (address.getAddress() == null || !address.getAddress().isLoopbackAddress()) {
            throw new XpfoException("the metrics endpoint listens on loopback only (127.0.0.1 or ::1), not " + address
                    + ": put a proxy in front of it to publish it further");
        }
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new XpfoException("could not serve metrics on " + address + ": " + e.getMessage(), e);
        }
        server.createContext("/metrics", exchange -> {
            try (exchange) {
                if (!"GET".equals(exchange.getRequestMethod())) {
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                byte[] body = scrape().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.start();
    }

    /** Where metrics are served, if they are. */
    Optional<InetSocketAddress> address() {
        return Optional.ofNullable(server).map(HttpServer::getAddress);
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
        }
        gcMetrics.close();
        registry.close();
    }
}
