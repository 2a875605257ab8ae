// SPDX-License-Identifier: Apache-2.0
/**
 * The VM launcher ({@code xpfo vm}: QEMU with its guest RAM in secret memory, checked from QEMU's own
 * account before the guest runs), its preflight of QEMU command lines, and the host audit
 * ({@code xpfo audit}).
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core}.
 */
module dev.xpfo.vm {
    requires transitive dev.xpfo.core;
    requires com.fasterxml.jackson.databind;

    exports dev.xpfo.vm;
    exports dev.xpfo.audit;
}
