// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import java.lang.foreign.MemorySegment;
import java.security.PublicKey;

/**
 * An XPFO X25519 private key for key agreement. Its algorithm is {@code "XDH"}, as the JDK's X25519
 * keys report; it does not implement {@code XECPrivateKey}, whose {@code getScalar()} would expose it.
 */
public final class XpfoXdhPrivateKey extends XpfoPrivateKey {
    XpfoXdhPrivateKey(MemorySegment pkey, PublicKey publicKey) {
        super("XDH", pkey, publicKey);
    }

    @Override
    String describe() {
        return "X25519";
    }
}
