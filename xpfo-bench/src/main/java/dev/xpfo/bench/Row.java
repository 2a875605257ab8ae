// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import java.util.Arrays;
import java.util.List;

/**
 * One benchmark row: its name as published (such as {@code small.xpfo}), its unit, and one sample per
 * measured round.
 */
record Row(String name, String unit, List<Double> samples) {

    double median() {
        double[] sorted = sorted();
        int n = sorted.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    double min() {
        return samples.isEmpty() ? Double.NaN : sorted()[0];
    }

    double max() {
        return samples.isEmpty() ? Double.NaN : sorted()[samples.size() - 1];
    }

    /** True for rows of time (ns per op or per page), which the chart draws. */
    boolean isTime() {
        return unit.startsWith("ns/");
    }

    private double[] sorted() {
        double[] values = samples.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(values);
        return values;
    }
}
