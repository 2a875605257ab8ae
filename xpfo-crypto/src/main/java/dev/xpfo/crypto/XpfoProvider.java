// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import dev.xpfo.crypto.heap.CryptoHeap;

import java.security.Provider;

/**
 * The XPFO JCA provider: private and secret keys live only in libcrypto objects allocated in secret
 * memory. Constructing it installs libcrypto's secret-memory heap first, or refuses.
 */
public final class XpfoProvider extends Provider {
    public static final String NAME = "XPFO";

    public XpfoProvider() {
        super(NAME, "0.1", "xpfo: OpenSSL libcrypto with its whole heap out of the kernel's direct map");
        CryptoHeap.ensureInstalled();
        // ---- services: keys and signatures (keys helper) ----
        dev.xpfo.crypto.keys.KeyServices.of(this).forEach(this::putService);

        // ---- services: the XPFO key store (tls helper) ----
        dev.xpfo.crypto.keystore.KeyStoreServices.of(this).forEach(this::putService);

        // ---- services: ciphers, MACs, key agreement, secret key generators (ciphers helper) ----
        dev.xpfo.crypto.symmetric.SymmetricServices.of(this).forEach(this::putService);
    }
}
