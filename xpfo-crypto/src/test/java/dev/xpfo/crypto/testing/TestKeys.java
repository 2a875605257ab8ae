// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Security;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.NamedParameterSpec;

/** TEST ONLY: key pairs of one algorithm and curve or size, from a given provider or the JDK's. */
public final class TestKeys {
    private TestKeys() {
    }

    /**
     * A key pair of {@code algorithm} ("EC", "XDH", "Ed25519", "RSA") from {@code provider}: on curve
     * {@code curveOrSize} (EC: "secp256r1"; XDH: "X25519"), of that many bits (RSA), or the
     * algorithm's one kind (Ed25519: "-").
     */
    public static KeyPair generate(String algorithm, String curveOrSize, Provider provider) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm, provider);
        switch (algorithm) {
            case "EC" -> generator.initialize(new ECGenParameterSpec(curveOrSize));
            case "XDH" -> generator.initialize(new NamedParameterSpec(curveOrSize));
            case "RSA" -> generator.initialize(Integer.parseInt(curveOrSize));
            default -> { }
        }
        return generator.generateKeyPair();
    }

    /** The same from the JDK's providers (SunRsaSign for RSA, SunEC for the others). */
    public static KeyPair jdk(String algorithm, String curveOrSize) throws Exception {
        return generate(algorithm, curveOrSize, Security.getProvider(algorithm.equals("RSA") ? "SunRsaSign" : "SunEC"));
    }
}
