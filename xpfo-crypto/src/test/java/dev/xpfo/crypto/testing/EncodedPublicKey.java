// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import java.io.Serial;
import java.security.PublicKey;
import java.util.function.Supplier;

/**
 * TEST ONLY: a public key that is nothing but an algorithm name, a format and an encoding, as a caller
 * may hand one in (a point moved off its curve, an encoding nobody reads); the encoding may be counted
 * ({@link #EncodedPublicKey(String, String, Supplier)}).
 */
public final class EncodedPublicKey implements PublicKey {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String algorithm;
    private final String format;
    private final transient Supplier<byte[]> encoding;

    /** A key whose every {@link #getEncoded()} is a copy of {@code encoded}. */
    public EncodedPublicKey(String algorithm, String format, byte[] encoded) {
        this(algorithm, format, encoded::clone);
    }

    /** A key whose {@link #getEncoded()} asks {@code encoding} each time. */
    public EncodedPublicKey(String algorithm, String format, Supplier<byte[]> encoding) {
        this.algorithm = algorithm;
        this.format = format;
        this.encoding = encoding;
    }

    @Override
    public String getAlgorithm() {
        return algorithm;
    }

    @Override
    public String getFormat() {
        return format;
    }

    @Override
    public byte[] getEncoded() {
        return encoding.get();
    }
}
