// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.ProviderException;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Recognises P-256 and P-384 when they come as explicit {@link ECParameterSpec}s rather than by name.
 * JSSE asks for its ephemeral ECDHE keys that way ({@code KeyPairGenerator.initialize(NamedCurve)}, a
 * subclass of {@code ECParameterSpec}); refusing it sends those keys to the next provider, SunEC, so an
 * XPFO first in the provider list would leave JSSE's ephemeral private keys on the Java heap. A spec is
 * the curve when every parameter (field, coefficients, generator, order, cofactor) equals the JDK's own.
 */
final class StandardCurves {
    /** libcrypto's group name by the JDK's parameters, read once from SunEC. */
    private static final Map<String, ECParameterSpec> KNOWN = load();

    private StandardCurves() {
    }

    private static Map<String, ECParameterSpec> load() {
        Map<String, ECParameterSpec> known = new LinkedHashMap<>();
        try {
            for (String[] curve : new String[][] {{"P-256", "secp256r1"}, {"P-384", "secp384r1"}}) {
                AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC", "SunEC");
                parameters.init(new ECGenParameterSpec(curve[1]));
                known.put(curve[0], parameters.getParameterSpec(ECParameterSpec.class));
            }
        } catch (GeneralSecurityException e) {
            throw new ProviderException("the JDK's SunEC does not describe P-256 and P-384: " + e, e);
        }
        return Map.copyOf(known);
    }

    /** "P-256" or "P-384" if {@code spec} is that curve in every parameter, empty otherwise. */
    static Optional<String> nameOf(ECParameterSpec spec) {
        return KNOWN.entrySet().stream().filter(known -> same(known.getValue(), spec)).map(Map.Entry::getKey).findFirst();
    }

    private static boolean same(ECParameterSpec a, ECParameterSpec b) {
        return a.getCurve().equals(b.getCurve()) // field, a and b (EllipticCurve.equals ignores the seed)
                && a.getGenerator().equals(b.getGenerator())
                && a.getOrder().equals(b.getOrder())
                && a.getCofactor() == b.getCofactor();
    }
}
