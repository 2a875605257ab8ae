// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** JFR: the pool populated chunks ahead of demand (background refill or an explicit warm). */
@Name("dev.xpfo.PoolRefill")
@Label("xpfo Pool Refill")
@Category("xpfo")
@Description("Secret memory populated ahead of demand: each page left the kernel's direct map")
final class PoolRefillEvent extends jdk.jfr.Event {
    @Label("Trigger")
    @Description("refill (background, below the low watermark) or warm (explicit)")
    String trigger;

    @Label("Chunks")
    int chunks;

    @Label("Bytes")
    @DataAmount
    long bytes;

    @Label("Threads")
    int threads;
}
