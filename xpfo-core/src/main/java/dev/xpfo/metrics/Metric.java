// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.metrics;

/**
 * One reading of a counter or gauge, named the way Prometheus names them ({@code xpfo_pool_ready_bytes},
 * counters ending in {@code _total}), so an exporter can pass them through unchanged.
 *
 * @param name  the metric's name, lower case with underscores
 * @param help  one line saying what it counts
 * @param kind  whether it only grows or goes up and down
 * @param value the reading
 */
public record Metric(String name, String help, Kind kind, long value) {
    /** How a metric behaves over time. */
    public enum Kind {
        /** Only grows, from 0 when its owner was created. */
        COUNTER,
        /** A level that goes up and down. */
        GAUGE
    }

    public static Metric counter(String name, String help, long value) {
        return new Metric(name, help, Kind.COUNTER, value);
    }

    public static Metric gauge(String name, String help, long value) {
        return new Metric(name, help, Kind.GAUGE, value);
    }
}
