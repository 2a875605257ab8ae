/**
 * xpfo core: memory removed from the Linux kernel's direct map ({@code memfd_secret(2)}),
 * the host probe and the isolation self-check.
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core}.
 */
module dev.xpfo.core {
    exports dev.xpfo.memory;
    exports dev.xpfo.host;
    exports dev.xpfo.isolation;
    exports dev.xpfo.handoff;
    exports dev.xpfo.pool;
    exports dev.xpfo.secret;
    exports dev.xpfo.metrics;
    exports dev.xpfo.protocol;
    exports dev.xpfo.client;

    requires jdk.jfr;
}
