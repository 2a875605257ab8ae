// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.testing.EncodedPublicKey;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

import static dev.xpfo.crypto.testing.Der.der;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Review (attack): XPFO's verification reads any public key libcrypto's {@code d2i_PUBKEY} reads, and
 * libcrypto reads keys the JDK refuses. An EC key with explicit domain parameters whose generator is
 * someone else's public point Q (CVE-2020-0601, "CurveBall") verifies signatures forged with the private
 * key 1; an RSA key with exponent 1 verifies the padded hash itself; an Ed25519 key with a non-canonical
 * point (y = p + 1) verifies R = identity, S = 0 for every message. The JDK refuses these keys
 * ({@code InvalidKeyException}); XPFO must refuse them too, before verifying anything.
 */
class VerificationKeyParametersTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final byte[] MESSAGE = "pay mallory 1,000,000".getBytes(StandardCharsets.UTF_8);
    private static final BigInteger P = new BigInteger("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16);
    private static final BigInteger A = P.subtract(BigInteger.valueOf(3));
    private static final BigInteger N = new BigInteger("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16);
    /** P-256 as explicit ECParameters ({@code openssl ecparam -name prime256v1 -param_enc explicit}), generator left out. */
    private static final String P256_EXPLICIT_HEAD = "3081f7020101302c06072a8648ce3d0101022100ffffffff000000010000000000000000"
            + "00000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000000000fffffffffffffffffffffffc0420"
            + "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d360886e704936a6678e1139d26b7819f7e900441";
    private static final String P256_EXPLICIT_TAIL = "022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101";

    @Test
    void anEcKeyWithExplicitParametersIsRefusedAsTheJdkRefusesIt() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", "SunEC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        ECPublicKey victim = (ECPublicKey) generator.generateKeyPair().getPublic();
        BigInteger[] q = {victim.getW().getAffineX(), victim.getW().getAffineY()};
        byte[] point = uncompressed(q);
        byte[] parameters = HexFormat.of().parseHex(P256_EXPLICIT_HEAD + HexFormat.of().formatHex(point) + P256_EXPLICIT_TAIL); // generator := Q
        byte[] spki = der(0x30, der(0x30, HexFormat.of().parseHex("06072a8648ce3d0201"), parameters), der(3, new byte[] {0}, point));
        // private key 1 over generator Q: public key Q, the victim's point
        BigInteger z = new BigInteger(1, MessageDigest.getInstance("SHA-256").digest(MESSAGE));
        BigInteger k = new BigInteger(250, new SecureRandom()).add(BigInteger.ONE);
        BigInteger r = multiply(k, q)[0].mod(N);
        byte[] forged = der(0x30, der(2, r.toByteArray()), der(2, k.modInverse(N).multiply(z.add(r)).mod(N).toByteArray()));

        assertThatThrownBy(() -> KeyFactory.getInstance("EC", "SunEC").generatePublic(new X509EncodedKeySpec(spki)))
                .as("the JDK's answer").hasCauseInstanceOf(InvalidKeyException.class);
        Signature xpfo = Signature.getInstance("SHA256withECDSA", XPFO);
        assertThatThrownBy(() -> {
            xpfo.initVerify(new EncodedPublicKey("EC", "X.509", spki));
            xpfo.update(MESSAGE);
            if (xpfo.verify(forged)) {
                throw new AssertionError("XPFO verified a signature forged for the victim's point Q without its private key");
            }
        }).isInstanceOf(InvalidKeyException.class);
    }

    @Test
    void anRsaKeyWithExponentOneIsRefusedAsTheJdkRefusesIt() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA", "SunRsaSign");
        generator.initialize(2048);
        BigInteger modulus = ((RSAPublicKey) generator.generateKeyPair().getPublic()).getModulus();
        byte[] spki = der(0x30, HexFormat.of().parseHex("300d06092a864886f70d0101010500"),
                der(3, new byte[] {0}, der(0x30, der(2, modulus.toByteArray()), der(2, new byte[] {1}))));
        byte[] digestInfo = HexFormat.of().parseHex("3031300d060960864801650304020105000420");
        byte[] padded = new byte[256]; // EMSA-PKCS1-v1_5: 00 01 FF..FF 00 DigestInfo hash; with e = 1 it is its own signature
        int at = padded.length - digestInfo.length - 32;
        for (int i = 1; i < at - 1; i++) {
            padded[i] = (byte) 0xff;
        }
        padded[1] = 1;
        System.arraycopy(digestInfo, 0, padded, at, digestInfo.length);
        System.arraycopy(MessageDigest.getInstance("SHA-256").digest(MESSAGE), 0, padded, at + digestInfo.length, 32);

        assertThatThrownBy(() -> KeyFactory.getInstance("RSA", "SunRsaSign").generatePublic(new X509EncodedKeySpec(spki)))
                .as("the JDK's answer").hasMessageContaining("exponent");
        Signature xpfo = Signature.getInstance("SHA256withRSA", XPFO);
        assertThatThrownBy(() -> {
            xpfo.initVerify(new EncodedPublicKey("RSA", "X.509", spki));
            xpfo.update(MESSAGE);
            if (xpfo.verify(padded)) {
                throw new AssertionError("XPFO verified the padded hash itself as a signature (exponent 1)");
            }
        }).isInstanceOf(InvalidKeyException.class);
    }

    /**
     * An Ed25519 key whose y is p + 1 (non-canonical; the identity point, order 1): the JDK refuses the key
     * ("y value is too large"); with it, R = identity and S = 0 "sign" every message.
     */
    @Test
    void anEd25519KeyWithANonCanonicalPointIsRefusedAsTheJdkRefusesIt() throws Exception {
        byte[] spki = HexFormat.of().parseHex("302a300506032b6570032100" + "ee" + "ff".repeat(30) + "7f");
        byte[] universal = HexFormat.of().parseHex("01" + "00".repeat(63));

        PublicKey jdkKey = KeyFactory.getInstance("Ed25519", "SunEC").generatePublic(new X509EncodedKeySpec(spki));
        assertThatThrownBy(() -> Signature.getInstance("Ed25519", "SunEC").initVerify(jdkKey))
                .as("the JDK's answer").isInstanceOf(InvalidKeyException.class).hasMessageContaining("too large");
        Signature xpfo = Signature.getInstance("Ed25519", XPFO);
        assertThatThrownBy(() -> {
            xpfo.initVerify(new EncodedPublicKey("Ed25519", "X.509", spki));
            xpfo.update(MESSAGE);
            if (xpfo.verify(universal)) {
                throw new AssertionError("XPFO verified R = identity, S = 0 with a key the JDK refuses");
            }
        }).isInstanceOf(InvalidKeyException.class);
    }

    private static byte[] uncompressed(BigInteger[] point) {
        byte[] encoded = new byte[65];
        encoded[0] = 4;
        System.arraycopy(fixed(point[0]), 0, encoded, 1, 32);
        System.arraycopy(fixed(point[1]), 0, encoded, 33, 32);
        return encoded;
    }

    private static byte[] fixed(BigInteger value) {
        byte[] bytes = value.toByteArray();
        byte[] out = new byte[32];
        int length = Math.min(32, bytes.length);
        System.arraycopy(bytes, bytes.length - length, out, 32 - length, length);
        return out;
    }

    /** Affine P-256 arithmetic (public values only, no constant time needed): {@code k * point}. */
    private static BigInteger[] multiply(BigInteger k, BigInteger[] point) {
        BigInteger[] result = null;
        for (int i = k.bitLength() - 1; i >= 0; i--) {
            result = add(result, result);
            if (k.testBit(i)) {
                result = add(result, point);
            }
        }
        return result;
    }

    private static BigInteger[] add(BigInteger[] p, BigInteger[] q) {
        if (p == null) {
            return q;
        }
        if (q == null) {
            return p;
        }
        BigInteger slope;
        if (p[0].equals(q[0])) {
            if (!p[1].equals(q[1]) || p[1].signum() == 0) {
                return null;
            }
            slope = p[0].pow(2).multiply(BigInteger.valueOf(3)).add(A).multiply(p[1].shiftLeft(1).modInverse(P)).mod(P);
        } else {
            slope = q[1].subtract(p[1]).multiply(q[0].subtract(p[0]).modInverse(P)).mod(P);
        }
        BigInteger x = slope.pow(2).subtract(p[0]).subtract(q[0]).mod(P);
        return new BigInteger[] {x, slope.multiply(p[0].subtract(x)).subtract(p[1]).mod(P)};
    }
}
