// SPDX-License-Identifier: Apache-2.0
/**
 * The XPFO JCA provider: OpenSSL 3's libcrypto, every allocation of which is served from secret
 * memory (out of the kernel's direct map) by a native allocator, so that private and secret keys
 * never touch the Java heap or the direct map.
 *
 * <p>Needs {@code --enable-native-access=dev.xpfo.core,dev.xpfo.crypto}. Use it with
 * {@code Security.addProvider(new XpfoProvider())}: it is not offered to {@link java.util.ServiceLoader}.
 */
module dev.xpfo.crypto {
    requires dev.xpfo.core;

    exports dev.xpfo.crypto.symmetric;
    exports dev.xpfo.crypto;
    exports dev.xpfo.crypto.keys;

    // Not "provides java.security.Provider": the JDK instantiates every provider a ServiceLoader offers
    // while it looks up providers configured by name (SunPKCS11, XMLDSig, ...), so any JCA or TLS use in
    // the process would install libcrypto's secret-memory heap (2 MiB of locked memory) or log its
    // refusal. Applications construct XpfoProvider themselves.
}
