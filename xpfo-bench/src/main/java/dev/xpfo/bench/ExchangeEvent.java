// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * One timed request/reply exchange of the grant suite, in a flight recording when the bench runs with
 * {@code -XX:StartFlightRecording}: a slow exchange can then be lined up with what the recording saw
 * at the same time (a collection, a safepoint, a thread parked on a lock). Costs nothing unrecorded.
 */
@Name("dev.xpfo.bench.Exchange")
@Label("Grant exchange")
@Category("xpfo")
@Description("GRANT sent to the last CHUNKS frame received")
final class ExchangeEvent extends jdk.jfr.Event {
    @Label("Request id")
    int request;

    @Label("Measured")
    boolean measured;
}
