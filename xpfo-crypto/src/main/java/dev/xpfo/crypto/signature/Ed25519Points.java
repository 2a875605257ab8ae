// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import java.math.BigInteger;

/**
 * Whether 32 bytes encode a point of edwards25519 (RFC 8032 §5.1.3), the check SunEC makes on a
 * signature's R before verifying, and libcrypto does not make (it compares R with the point it
 * computes). {@link EdDsaSignature} asks only for a signature libcrypto found invalid, to answer as
 * the JDK does: an exception rather than false. Public data, BigInteger arithmetic.
 */
final class Ed25519Points {
    private static final BigInteger P = BigInteger.TWO.pow(255).subtract(BigInteger.valueOf(19));
    /** d = -121665 / 121666 mod p. */
    private static final BigInteger D = BigInteger.valueOf(-121665).multiply(BigInteger.valueOf(121666).modInverse(P)).mod(P);

    private Ed25519Points() {
    }

    /** Null if {@code encoded[offset..offset+32)} is a point, otherwise why not (the JDK's words). */
    static String whyNotAPoint(byte[] encoded, int offset) {
        byte[] bigEndian = new byte[32];
        for (int i = 0; i < 32; i++) {
            bigEndian[i] = encoded[offset + 31 - i];
        }
        int xLsb = (bigEndian[0] & 0xff) >>> 7;
        bigEndian[0] &= 0x7f;
        BigInteger y = new BigInteger(1, bigEndian);
        if (y.compareTo(P) >= 0) {
            return "y value is too large";
        }
        BigInteger y2 = y.multiply(y).mod(P);
        BigInteger u = y2.subtract(BigInteger.ONE).mod(P);
        BigInteger v = D.multiply(y2).add(BigInteger.ONE).mod(P);
        BigInteger x = u.multiply(v.modPow(BigInteger.valueOf(3), P))
                .multiply(u.multiply(v.modPow(BigInteger.valueOf(7), P)).modPow(P.subtract(BigInteger.valueOf(5)).shiftRight(3), P)).mod(P);
        BigInteger vx2 = v.multiply(x).multiply(x).mod(P);
        if (vx2.equals(u)) {
            // x is a square root
        } else if (vx2.equals(P.subtract(u).mod(P))) {
            x = x.multiply(BigInteger.TWO.modPow(P.subtract(BigInteger.ONE).shiftRight(2), P)).mod(P);
        } else {
            return "Invalid point";
        }
        if (x.signum() == 0 && xLsb == 1) {
            return "Invalid point";
        }
        return null;
    }
}
