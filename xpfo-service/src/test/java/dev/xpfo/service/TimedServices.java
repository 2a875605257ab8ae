// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import java.time.Duration;

/**
 * Services for tests with other periods or another clock ({@link Service.Timing}): tests that wait for
 * a sweep ({@link Holdings#awaitSweep}) or move time themselves instead of sleeping.
 */
final class TimedServices {
    private TimedServices() {
    }

    /** Starts a service with {@code timing} and waits for its stock to be warm. */
    static Service started(ServiceSettings settings, Service.Timing timing) {
        Service service = Service.start(settings, timing);
        service.pool().warm((done, total) -> { });
        return service;
    }

    /** Scans for released grants every 50 ms rather than every second, on the system's clock. */
    static Service scanningOften(ServiceSettings settings) {
        return started(settings, new Service.Timing(Duration.ofMillis(50), System::nanoTime));
    }
}
