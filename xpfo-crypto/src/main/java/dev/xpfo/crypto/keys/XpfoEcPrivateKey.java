// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import java.lang.foreign.MemorySegment;
import java.security.interfaces.ECKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECParameterSpec;

/**
 * An XPFO EC private key: implements {@link ECKey} (the curve is public, JSSE reads it) but not
 * {@code ECPrivateKey}, which would expose the scalar and make SunEC claim the key.
 */
public final class XpfoEcPrivateKey extends XpfoPrivateKey implements ECKey {
    private final ECParameterSpec params;

    XpfoEcPrivateKey(MemorySegment pkey, ECPublicKey publicKey) {
        super("EC", pkey, publicKey);
        this.params = publicKey.getParams();
    }

    @Override
    public ECParameterSpec getParams() {
        return params;
    }

    @Override
    String describe() {
        return params.getCurve().getField().getFieldSize() + "-bit curve";
    }
}
