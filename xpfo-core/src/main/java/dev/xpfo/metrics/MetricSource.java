// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.metrics;

import java.util.List;

/** Something that reports its counters and gauges: a page pool, a secret store. */
public interface MetricSource {
    /** A consistent-enough reading of every metric now; cheap, safe from any thread. */
    List<Metric> metrics();
}
