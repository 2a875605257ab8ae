// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Draws the time rows' medians as a bar chart (log scale: they span five orders of magnitude), PNG or SVG. */
final class BarChart {
    private BarChart() {
    }

    static void write(Results results, Path file) throws IOException {
        List<String> names = new ArrayList<>();
        List<Double> medians = new ArrayList<>();
        for (Row row : results.rows()) {
            if (row.isTime()) {
                names.add(row.name() + " (" + row.unit() + ")");
                medians.add(row.median());
            }
        }
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(700)
                .title("xpfo benchmark: median per operation or per 4 KiB page (lower is better, log scale)")
                .xAxisTitle("row").yAxisTitle("nanoseconds").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(1.0);
        chart.getStyler().setYAxisDecimalPattern("#,##0.#");
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisLabelRotation(35);
        chart.getStyler().setLabelsVisible(true);
        chart.addSeries("median", names, medians);
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".svg")) {
            VectorGraphicsEncoder.saveVectorGraphic(chart, file.toString(), VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        } else if (name.endsWith(".png")) {
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } else {
            throw new IllegalArgumentException("--plot needs a file ending in .png or .svg, not " + file);
        }
    }
}
