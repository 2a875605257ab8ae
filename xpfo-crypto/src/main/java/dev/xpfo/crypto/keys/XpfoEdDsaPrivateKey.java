// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import java.lang.foreign.MemorySegment;
import java.security.PublicKey;

/**
 * An XPFO Ed25519 private key. Its algorithm is {@code "EdDSA"}, as the JDK's Ed25519 keys report and
 * JSSE matches; it does not implement {@code EdECPrivateKey}, whose {@code getBytes()} would expose it.
 */
public final class XpfoEdDsaPrivateKey extends XpfoPrivateKey {
    XpfoEdDsaPrivateKey(MemorySegment pkey, PublicKey publicKey) {
        super("EdDSA", pkey, publicKey);
    }

    @Override
    String describe() {
        return "Ed25519";
    }
}
