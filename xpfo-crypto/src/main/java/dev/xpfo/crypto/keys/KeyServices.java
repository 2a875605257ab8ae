// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.signature.DigestSignature;
import dev.xpfo.crypto.signature.EdDsaSignature;
import dev.xpfo.crypto.signature.RsaPssSignature;

import java.security.InvalidParameterException;
import java.security.Provider;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The XPFO provider's services for private keys: key pair generators and signatures. Every
 * signature lists {@code SupportedKeyClasses = XpfoPrivateKey}, so the JDK's delayed provider
 * selection sends operations on XPFO keys to XPFO, and only those, wherever XPFO sits in the
 * provider list. The same services verify with ordinary public keys, but only for a caller that asks
 * for XPFO by name ({@code Signature.getInstance(alg, xpfo)}, which the JDK hands the SPI without
 * consulting {@code SupportedKeyClasses}) or whose {@code Signature} delayed selection already bound
 * to XPFO: a public key never matches {@code SupportedKeyClasses}, so {@code Signature.getInstance(alg)}
 * with XPFO first in the list still verifies with the JDK's providers.
 */
public final class KeyServices {
    private static final Map<String, String> XPFO_KEYS_ONLY = Map.of("SupportedKeyClasses", XpfoPrivateKey.class.getName());

    private KeyServices() {
    }

    /** The services to register in {@code provider}. */
    public static List<Provider.Service> of(Provider provider) {
        CryptoHeap.ensureInstalled(); // public: its engines may run before any XpfoProvider exists
        List<Provider.Service> services = new ArrayList<>();
        services.add(generator(provider, "EC", List.of(), XpfoKeyPairGenerator.Kind.EC));
        services.add(generator(provider, "Ed25519", List.of("EdDSA"), XpfoKeyPairGenerator.Kind.ED25519));
        services.add(generator(provider, "X25519", List.of("XDH"), XpfoKeyPairGenerator.Kind.X25519));
        services.add(generator(provider, "RSA", List.of(), XpfoKeyPairGenerator.Kind.RSA));
        for (String digest : List.of("SHA256", "SHA384", "SHA512")) {
            services.add(signature(provider, digest + "withECDSA", List.of(), DigestSignature.class, () -> DigestSignature.ecdsa(digest)));
            services.add(signature(provider, digest + "withRSA", List.of(), DigestSignature.class, () -> DigestSignature.rsa(digest)));
        }
        services.add(signature(provider, "Ed25519", List.of("EdDSA"), EdDsaSignature.class, EdDsaSignature::new));
        services.add(signature(provider, "RSASSA-PSS", List.of(), RsaPssSignature.class, RsaPssSignature::new));
        return services;
    }

    private static Provider.Service generator(Provider provider, String algorithm, List<String> aliases, XpfoKeyPairGenerator.Kind kind) {
        return new SpiService(provider, "KeyPairGenerator", algorithm, XpfoKeyPairGenerator.class, aliases, Map.of(),
                () -> new XpfoKeyPairGenerator(kind));
    }

    private static Provider.Service signature(Provider provider, String algorithm, List<String> aliases, Class<?> spi, Supplier<?> factory) {
        return new SpiService(provider, "Signature", algorithm, spi, aliases, XPFO_KEYS_ONLY, factory);
    }

    /** A service built by a factory, not by reflection (its classes are not exported). */
    private static final class SpiService extends Provider.Service {
        private final Supplier<?> factory;

        SpiService(Provider provider, String type, String algorithm, Class<?> spi, List<String> aliases,
                   Map<String, String> attributes, Supplier<?> factory) {
            super(provider, type, algorithm, spi.getName(), aliases, attributes);
            this.factory = factory;
        }

        @Override
        public Object newInstance(Object constructorParameter) {
            if (constructorParameter != null) {
                throw new InvalidParameterException(getType() + " " + getAlgorithm() + " takes no constructor parameter");
            }
            return factory.get();
        }
    }
}
