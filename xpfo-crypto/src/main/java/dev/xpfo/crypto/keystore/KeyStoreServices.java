// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keystore;

import dev.xpfo.crypto.heap.CryptoHeap;
import java.security.InvalidParameterException;
import java.security.Provider;
import java.util.List;
import java.util.Map;

/** The XPFO provider's key store service, type {@code XPFO}. */
public final class KeyStoreServices {
    private KeyStoreServices() {
    }

    /** The services to register in {@code provider}. */
    public static List<Provider.Service> of(Provider provider) {
        CryptoHeap.ensureInstalled(); // public: its engines may run before any XpfoProvider exists
        return List.of(new KeyStoreService(provider));
    }

    /** Built by a constructor call, not by reflection (the package is not exported). */
    private static final class KeyStoreService extends Provider.Service {
        KeyStoreService(Provider provider) {
            super(provider, "KeyStore", "XPFO", XpfoKeyStore.class.getName(), List.of(), Map.of());
        }

        @Override
        public Object newInstance(Object constructorParameter) {
            if (constructorParameter != null) {
                throw new InvalidParameterException("KeyStore XPFO takes no constructor parameter");
            }
            return new XpfoKeyStore();
        }
    }
}
