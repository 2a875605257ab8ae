// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything one benchmark run measured: rows of samples, the ratios between rows, and a line per
 * target saying whether it was met. Ratios are what to compare across runs: this machine is shared
 * and absolute times drift.
 */
final class Results {
    /** Rows by name, so related rows ({@code bulk.cold}, {@code bulk.cold.ipis_per_mib}) print together. */
    private final Map<String, Row> rows = new java.util.TreeMap<>();
    private final Map<String, Double> ratios = new LinkedHashMap<>();
    private final List<String> verdicts = new ArrayList<>();
    private final Map<String, String> notes = new LinkedHashMap<>();

    void add(String name, String unit, double sample) {
        rows.computeIfAbsent(name, n -> new Row(n, unit, new ArrayList<>())).samples().add(sample);
    }

    double median(String row) {
        Row found = rows.get(row);
        return found == null ? Double.NaN : found.median();
    }

    boolean has(String row) {
        return rows.containsKey(row) && !rows.get(row).samples().isEmpty();
    }

    /** Records {@code numerator / denominator} of the rows' medians under {@code name}, if both were run. */
    double ratio(String name, String numerator, String denominator) {
        double value = median(numerator) / median(denominator);
        if (has(numerator) && has(denominator)) {
            ratios.put(name, value);
        }
        return value;
    }

    void verdict(String line) {
        verdicts.add(line);
    }

    /** A row that could not run, and why; printed and written, never silently dropped. */
    void skipped(String row, String why) {
        notes.put(row, why);
    }

    Iterable<Row> rows() {
        return rows.values();
    }

    void print(PrintStream out) {
        out.printf(Locale.ROOT, "%n%-28s %-10s %14s %14s %14s %6s%n", "row", "unit", "median", "min", "max", "n");
        for (Row row : rows.values()) {
            out.printf(Locale.ROOT, "%-28s %-10s %14s %14s %14s %6d%n", row.name(), row.unit(), number(row.median()),
                    number(row.min()), number(row.max()), row.samples().size());
        }
        notes.forEach((row, why) -> out.printf(Locale.ROOT, "%-28s SKIPPED: %s%n", row, why));
        if (!ratios.isEmpty()) {
            out.println();
            ratios.forEach((name, value) -> out.printf(Locale.ROOT, "%-44s %10.4fx%n", name, value));
        }
        if (!verdicts.isEmpty()) {
            out.println();
            verdicts.forEach(out::println);
        }
    }

    private static String number(double value) {
        return Double.isNaN(value) ? "-" : value >= 100 ? String.format(Locale.ROOT, "%.0f", value)
                : String.format(Locale.ROOT, "%.2f", value);
    }

    void writeJson(Path file, Map<String, Object> settings) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        ObjectNode settingsNode = root.putObject("settings");
        settings.forEach((key, value) -> settingsNode.put(key, String.valueOf(value)));
        ObjectNode rowsNode = root.putObject("rows");
        for (Row row : rows.values()) {
            ObjectNode node = rowsNode.putObject(row.name());
            node.put("unit", row.unit());
            node.put("median", row.median());
            node.put("min", row.min());
            node.put("max", row.max());
            ArrayNode samples = node.putArray("samples");
            row.samples().forEach(samples::add);
        }
        ObjectNode skippedNode = root.putObject("skipped");
        notes.forEach(skippedNode::put);
        ObjectNode ratioNode = root.putObject("ratios");
        ratios.forEach(ratioNode::put);
        ArrayNode verdictNode = root.putArray("verdicts");
        verdicts.forEach(verdictNode::add);
        Files.writeString(file, mapper.writeValueAsString(root));
    }
}
