// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.security.interfaces.RSAKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.AlgorithmParameterSpec;

/**
 * An XPFO RSA private key: implements {@link RSAKey} (the modulus is public; JSSE needs the key's size
 * to choose a signature scheme) but not {@code RSAPrivateKey}, which would expose the private exponent
 * and make SunRsaSign claim the key.
 */
public final class XpfoRsaPrivateKey extends XpfoPrivateKey implements RSAKey {
    private final BigInteger modulus;

    XpfoRsaPrivateKey(MemorySegment pkey, RSAPublicKey publicKey) {
        super("RSA", pkey, publicKey);
        this.modulus = publicKey.getModulus();
    }

    @Override
    public BigInteger getModulus() {
        return modulus;
    }

    /** Null: a plain RSA key (not RSASSA-PSS-restricted) has no parameters. */
    @Override
    public AlgorithmParameterSpec getParams() {
        return null;
    }

    @Override
    String describe() {
        return modulus.bitLength() + "-bit";
    }
}
