// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** JFR: a take found too little ready memory and populated the rest on demand, paying the IPIs then. */
@Name("dev.xpfo.ColdTake")
@Label("xpfo Cold Take")
@Category("xpfo")
@Description("A take from the pool populated secret memory on demand because too little was ready")
final class ColdTakeEvent extends jdk.jfr.Event {
    @Label("Requested")
    @DataAmount
    long requestedBytes;

    @Label("Populated On Demand")
    @DataAmount
    long populatedBytes;
}
