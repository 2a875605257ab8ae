// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.PopulateProgress;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** The progress bar shown while memory is populated, in MiB. */
final class WarmingBar {
    private WarmingBar() {
    }

    /** Runs {@code work}, which populates {@code bytes} and reports through the progress it is given. */
    static void show(String task, long bytes, Consumer<PopulateProgress> work) {
        show(task, bytes, work, () -> true);
    }

    /**
     * Runs {@code work} like {@link #show(String, long, Consumer)}; once it returns, the bar shows all
     * of {@code bytes} only if {@code completed} says the work finished rather than was stopped.
     */
    static void show(String task, long bytes, Consumer<PopulateProgress> work, BooleanSupplier completed) {
        long mib = Math.max(1, Bytes.roundUp(bytes, Bytes.MIB) / Bytes.MIB);
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(mib).setUnit(" MiB", 1)
                .setStyle(ProgressBarStyle.ASCII).continuousUpdate().build()) {
            work.accept((done, total) -> bar.stepTo(done / Bytes.MIB));
            if (completed.getAsBoolean()) {
                bar.stepTo(mib);
            }
        }
    }
}
