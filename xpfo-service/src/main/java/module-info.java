// SPDX-License-Identifier: Apache-2.0
/**
 * The xpfo service ({@code xpfo serve}): a warm stock of secret memory files granted to other
 * processes over a Unix socket, with peer credentials, quotas, status and Prometheus metrics.
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core}.
 */
module dev.xpfo.service {
    requires transitive dev.xpfo.core;
    requires com.fasterxml.jackson.databind;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires jdk.httpserver;

    exports dev.xpfo.service;
    exports dev.xpfo.stock;
}
