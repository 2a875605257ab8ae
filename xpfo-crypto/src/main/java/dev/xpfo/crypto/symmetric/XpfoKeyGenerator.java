// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidParameterException;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;

import javax.crypto.KeyGeneratorSpi;
import javax.crypto.SecretKey;

/**
 * {@code KeyGenerator} "AES" (128, 192 or 256 bits; 256 by default), "ChaCha20" (256 bits) and "HmacSHA256/384/512" (at
 * least 40 bits, a multiple of 8; the digest's length by default): {@link XpfoSecretKey}s whose bytes
 * come from libcrypto's private DRBG ({@code RAND_priv_bytes}) straight into libcrypto's heap. A
 * {@link SecureRandom} passed to {@code init} is not used: the bytes must not pass through Java.
 */
public final class XpfoKeyGenerator extends KeyGeneratorSpi {
    private final String algorithm;
    private int bytes;

    XpfoKeyGenerator(String algorithm) {
        this.algorithm = algorithm;
        this.bytes = switch (algorithm) {
            case "AES", "ChaCha20", "HmacSHA256" -> 32;
            case "HmacSHA384" -> 48;
            case "HmacSHA512" -> 64;
            default -> throw new IllegalArgumentException("no XPFO key generator for " + algorithm);
        };
    }

    @Override
    protected void engineInit(SecureRandom random) {
        // The default size stays; random is not used (the bytes come from RAND_priv_bytes).
    }

    @Override
    protected void engineInit(AlgorithmParameterSpec params, SecureRandom random) throws InvalidAlgorithmParameterException {
        throw new InvalidAlgorithmParameterException("XPFO's " + algorithm + " key generator takes a key size, not parameters");
    }

    @Override
    protected void engineInit(int keysize, SecureRandom random) {
        String refusal = switch (algorithm) {
            case "AES" -> keysize == 128 || keysize == 192 || keysize == 256 ? null : "an AES key is 128, 192 or 256 bits, not " + keysize;
            case "ChaCha20" -> keysize == 256 ? null : "a ChaCha20 key is 256 bits, not " + keysize;
            default -> keysize >= 40 && keysize % 8 == 0 ? null : "an HMAC key is at least 40 bits and a multiple of 8, not " + keysize;
        };
        if (refusal != null) {
            throw new InvalidParameterException(refusal);
        }
        bytes = keysize / 8;
    }

    @Override
    protected SecretKey engineGenerateKey() {
        return XpfoSecretKey.generate(algorithm, bytes);
    }
}
