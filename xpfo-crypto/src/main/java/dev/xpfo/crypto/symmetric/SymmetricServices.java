// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.pkey.NativeKey;

import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The XPFO provider's symmetric services: {@code KeyGenerator} (AES, ChaCha20, HMAC), {@code Mac}
 * (HmacSHA256/384/512), {@code Cipher} (AES/GCM/NoPadding, ChaCha20-Poly1305) and {@code KeyAgreement}
 * (ECDH, X25519/XDH, with XPFO private keys: {@link NativeKey}).
 * Each service builds its engine directly (the engines' package is not exported, so the JDK could not
 * construct them by reflection), and {@code Mac}/{@code Cipher} declare
 * {@code SupportedKeyClasses=}{@link XpfoSecretKey} (key agreement: {@link NativeKey}): the JDK's delayed provider selection then sends
 * XPFO keys to XPFO wherever it sits in the provider list, and other keys elsewhere.
 */
public final class SymmetricServices {
    private static final Map<String, String> KEY_CLASSES = Map.of("SupportedKeyClasses", XpfoSecretKey.class.getName());
    private static final Map<String, String> NATIVE_KEY_CLASSES = Map.of("SupportedKeyClasses", NativeKey.class.getName());

    private SymmetricServices() {
    }

    /** The services to register in {@code provider}. */
    public static List<Provider.Service> of(Provider provider) {
        CryptoHeap.ensureInstalled(); // public: its engines may run before any XpfoProvider exists
        return List.of(
                service(provider, "KeyGenerator", "AES", Map.of(), () -> new XpfoKeyGenerator("AES")),
                service(provider, "KeyGenerator", "ChaCha20", Map.of(), () -> new XpfoKeyGenerator("ChaCha20")),
                service(provider, "KeyGenerator", "HmacSHA256", Map.of(), () -> new XpfoKeyGenerator("HmacSHA256")),
                service(provider, "KeyGenerator", "HmacSHA384", Map.of(), () -> new XpfoKeyGenerator("HmacSHA384")),
                service(provider, "KeyGenerator", "HmacSHA512", Map.of(), () -> new XpfoKeyGenerator("HmacSHA512")),
                service(provider, "Mac", "HmacSHA256", KEY_CLASSES, () -> new XpfoHmac("HmacSHA256")),
                service(provider, "Mac", "HmacSHA384", KEY_CLASSES, () -> new XpfoHmac("HmacSHA384")),
                service(provider, "Mac", "HmacSHA512", KEY_CLASSES, () -> new XpfoHmac("HmacSHA512")),
                service(provider, "Cipher", "AES/GCM/NoPadding", KEY_CLASSES, () -> new XpfoAeadCipher(XpfoAeadCipher.Aead.AES_GCM)),
                service(provider, "Cipher", "ChaCha20-Poly1305", KEY_CLASSES, () -> new XpfoAeadCipher(XpfoAeadCipher.Aead.CHACHA20_POLY1305)),
                service(provider, "KeyAgreement", "ECDH", NATIVE_KEY_CLASSES, () -> new XpfoKeyAgreement("ECDH")),
                service(provider, "KeyAgreement", "X25519", NATIVE_KEY_CLASSES, () -> new XpfoKeyAgreement("X25519")),
                service(provider, "KeyAgreement", "XDH", NATIVE_KEY_CLASSES, () -> new XpfoKeyAgreement("XDH")));
    }

    private static Provider.Service service(Provider provider, String type, String algorithm, Map<String, String> attributes,
                                            Supplier<Object> engine) {
        return new Provider.Service(provider, type, algorithm, XpfoSecretKey.class.getPackageName() + "." + type + "." + algorithm,
                List.of(), attributes) {
            @Override
            public Object newInstance(Object constructorParameter) throws NoSuchAlgorithmException {
                return engine.get();
            }
        };
    }
}
