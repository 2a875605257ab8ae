// SPDX-License-Identifier: Apache-2.0
/**
 * The XPFO JCA provider: OpenSSL 3's libcrypto, every allocation of which is served from secret
 * memory (out of the kernel's direct map) by a native allocator, so that private and secret keys
 * never touch the Java heap or the direct map.
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core,dev.xpfo.crypto}.
 */
module dev.xpfo.crypto {
    requires dev.xpfo.core;

    exports dev.xpfo.crypto.symmetric;
    exports dev.xpfo.crypto;
    exports dev.xpfo.crypto.keys;

    provides java.security.Provider with dev.xpfo.crypto.XpfoProvider;
}
