// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.keys.XpfoEdDsaPrivateKey;

import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.security.SignatureException;
import java.util.List;

/**
 * Ed25519 (pure EdDSA, no context): libcrypto signs and verifies only in one shot, so the message
 * is buffered in the context's native memory (it is public) and signed or verified at the end.
 * Like SunEC, a signature of another length than 64 bytes, whose S is not below the group order or
 * whose R is not a point ({@link Ed25519Points}) is a {@link SignatureException}; any other wrong
 * signature verifies false.
 */
public final class EdDsaSignature extends XpfoSignature {
    private static final int SIGNATURE_BYTES = 64;
    /** The key's signing template: pure Ed25519 has no digest or parameters. */
    private static final Object TEMPLATE = "Ed25519";
    /** The order of Ed25519's base point, 2^252 + 27742317777372353535851937790883648493 (RFC 8032). */
    private static final BigInteger ORDER = BigInteger.TWO.pow(252).add(new BigInteger("27742317777372353535851937790883648493"));

    public EdDsaSignature() {
        super("Ed25519", XpfoEdDsaPrivateKey.class);
    }

    @Override
    String expectedKey() {
        return "Ed25519";
    }

    @Override
    List<String> verificationKeyTypes() {
        return List.of("ED25519");
    }

    @Override
    void restart() {
        context.clearMessage();
    }

    @Override
    protected void engineUpdate(byte[] b, int off, int len) throws SignatureException {
        requireInitialised();
        context.append(b, off, len);
    }

    @Override
    protected byte[] engineSign() throws SignatureException {
        requireSigning();
        try {
            context.beginSigning((XpfoEdDsaPrivateKey) key, TEMPLATE, MemorySegment.NULL, SignContext.Configuration.NONE);
        } catch (SignatureException e) {
            context.clearMessage();
            throw e;
        }
        return context.signMessage(key);
    }

    @Override
    protected boolean engineVerify(byte[] sigBytes) throws SignatureException {
        requireVerifying();
        try {
            if (sigBytes.length != SIGNATURE_BYTES) {
                throw new SignatureException("signature length invalid: " + sigBytes.length + " bytes, not " + SIGNATURE_BYTES);
            }
            if (littleEndian(sigBytes, SIGNATURE_BYTES / 2, SIGNATURE_BYTES / 2).compareTo(ORDER) >= 0) {
                throw new SignatureException("s is too large");
            }
            context.begin(key, MemorySegment.NULL, true, purpose);
        } catch (SignatureException e) {
            context.clearMessage();
            throw e;
        }
        if (context.verifyMessage(sigBytes)) {
            return true;
        }
        String notAPoint = Ed25519Points.whyNotAPoint(sigBytes, 0);
        if (notAPoint != null) {
            throw new SignatureException(notAPoint + " (the signature's R)");
        }
        return false;
    }

    private static BigInteger littleEndian(byte[] bytes, int offset, int length) {
        byte[] bigEndian = new byte[length];
        for (int i = 0; i < length; i++) {
            bigEndian[i] = bytes[offset + length - 1 - i];
        }
        return new BigInteger(1, bigEndian);
    }
}
