// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.keys.XpfoEdDsaPrivateKey;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.security.SignatureException;

/**
 * Ed25519 (pure EdDSA, no context): libcrypto signs only in one shot, so the message is buffered
 * (it is public) and signed at {@code sign()}.
 */
public final class EdDsaSignature extends XpfoSignature {
    private final ByteArrayOutputStream message = new ByteArrayOutputStream();

    public EdDsaSignature() {
        super("Ed25519", XpfoEdDsaPrivateKey.class);
    }

    @Override
    String expectedKey() {
        return "Ed25519";
    }

    @Override
    void restart() {
        message.reset();
    }

    @Override
    protected void engineUpdate(byte[] b, int off, int len) throws SignatureException {
        requireSigning();
        message.write(b, off, len);
    }

    @Override
    protected byte[] engineSign() throws SignatureException {
        requireSigning();
        byte[] tbs = message.toByteArray();
        message.reset();
        context.begin(key, MemorySegment.NULL, true);
        return context.signOneShot(tbs);
    }
}
