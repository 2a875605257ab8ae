// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.stock.StockStats;
import dev.xpfo.service.Service;

/** Waiting for a service in this process to be at rest between measurements. */
final class StockSettle {
    private StockSettle() {
    }

    /**
     * Returns once the service's stock is full, nothing is being populated and no release waits for
     * the once-a-second scan of every process: a measurement then starts with ready memory only and
     * no refill running beside it.
     */
    static void await(Service service) throws InterruptedException {
        service.pool().warm((done, total) -> { });
        while (true) {
            StockStats stats = service.pool().stats();
            if (stats.populatingBytes() == 0 && stats.readyBytes() >= stats.targetBytes() && service.sweeperIdle()) {
                return;
            }
            Thread.sleep(5);
        }
    }
}
