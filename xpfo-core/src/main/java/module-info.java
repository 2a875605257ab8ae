// SPDX-License-Identifier: Apache-2.0
/**
 * xpfo core: memory removed from the Linux kernel's direct map ({@code memfd_secret(2)}), the warm
 * page pool, secrets, the host probe, the isolation self-check and the Java client of the service.
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core}.
 *
 * <p>Exported to everyone: what applications call. The wire protocol's server side and the
 * descriptor-passing socket are exported only to the modules that serve and launch (the service and
 * the VM launcher), so that no application comes to depend on them.
 */
module dev.xpfo.core {
    exports dev.xpfo.memory;
    exports dev.xpfo.host;
    exports dev.xpfo.isolation;
    exports dev.xpfo.pool;
    exports dev.xpfo.secret;
    exports dev.xpfo.metrics;
    exports dev.xpfo.client;

    exports dev.xpfo.protocol to dev.xpfo.service;
    exports dev.xpfo.handoff to dev.xpfo.service, dev.xpfo.vm;

    requires jdk.jfr;
}
