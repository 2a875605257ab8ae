package dev.xpfo.service;

import com.sun.net.httpserver.HttpServer;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.metrics.Metric;
import dev.xpfo.protocol.ErrorCode;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The service's metrics in a Micrometer registry, served in Prometheus text format on a loopback
 * address ({@code --metrics 127.0.0.1:PORT}): the stock's gauges and counters, grants, refusals by
 * code, grant latency, clients, and granted bytes by uid.
 */
final class ServiceMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Service service;
    private final Timer grantLatency;
    private final MultiGauge grantedByUid;
    private HttpServer server;
    private volatile List<Metric> stockReadings;

    ServiceMetrics(Service service) {
        this.service = service;
        for (Metric metric : service.pool().metrics()) {
            String name = metric.name().replaceFirst("_total$", "").replace('_', '.');
            if (metric.kind() == Metric.Kind.COUNTER) {
                FunctionCounter.builder(name, this, m -> m.read(metric.name())).description(metric.help()).register(registry);
            } else {
                Gauge.builder(name, this, m -> m.read(metric.name())).description(metric.help()).register(registry);
            }
        }
        FunctionCounter.builder("xpfo.grants", service, Service::grantsTotal).description("Grants made").register(registry);
        FunctionCounter.builder("xpfo.granted.bytes", service, Service::grantedBytesTotal)
                .description("Bytes granted, all grants together").register(registry);
        for (ErrorCode code : ErrorCode.values()) {
            FunctionCounter.builder("xpfo.refusals", service, s -> s.refusalsTotal(code)).tag("code", code.name())
                    .description("Requests refused, by error code").register(registry);
        }
        Gauge.builder("xpfo.clients", service, Service::clients).description("Connected clients").register(registry);
        Gauge.builder("xpfo.kernel.counting", service, s -> s.kernel().counts() ? 1 : 0)
                .description("1 if the kernel counts the service's secret memory (a memory cgroup of its own); 0 if "
                        + "the maximum and the quotas rest on a scan of /proc alone, which parked descriptors escape")
                .register(registry);
        Gauge.builder("xpfo.kernel.counted.bytes", service, s -> s.kernel().countNow())
                .description("Secret memory the service populated and the kernel has not freed, wherever its files "
                        + "went (its memory cgroup's unevictable bytes); -1 if not counted").register(registry);
        this.grantLatency = Timer.builder("xpfo.grant.latency").description("From a GRANT's arrival to its last CHUNKS frame sent")
                .publishPercentiles(0.5, 0.99).register(registry);
        this.grantedByUid = MultiGauge.builder("xpfo.outstanding.bytes").description("Granted and not released, by uid")
                .register(registry);
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
        grantLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The metrics in Prometheus text format, read now. */
    synchronized String scrape() {
        stockReadings = service.pool().metrics();
        try {
            return scrapeNow();
        } finally {
            stockReadings = null;
        }
    }

    private String scrapeNow() {
        grantedByUid.register(service.quotas().outstandingByUid().entrySet().stream()
                .map(e -> MultiGauge.Row.of(Tags.of("uid", Integer.toString(e.getKey())), e.getValue()))
                .toList(), true);
        return registry.scrape();
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
        registry.close();
    }
}
