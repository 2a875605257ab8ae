// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A group of rows measured together, rounds interleaved so machine noise hits every row alike. */
interface Suite {
    /** Runs a warm-up round and {@code rounds} measured ones, adding samples, ratios and verdicts. */
    void run(Results results, int rounds) throws Exception;

    /** Runs each row once per round, in an order rotated every round; round 0 is a discarded warm-up. */
    static void interleave(int rounds, Map<String, RoundTask> rows) throws Exception {
        List<String> order = new ArrayList<>(rows.keySet());
        for (int round = 0; round <= rounds; round++) {
            for (int i = 0; i < order.size(); i++) {
                rows.get(order.get((i + round) % order.size())).run(round > 0);
            }
            System.out.print(round == 0 ? " warm-up" : " " + round);
            System.out.flush();
        }
        System.out.println();
    }

    /** One row's work for one round; {@code measured} is false in the warm-up. */
    @FunctionalInterface
    interface RoundTask {
        void run(boolean measured) throws Exception;
    }
}
