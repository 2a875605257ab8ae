// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.testing.EncodedPublicKey;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAPublicKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

import static dev.xpfo.crypto.testing.Der.der;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Each rule of {@link VerificationKeyChecks}, one key that breaks only it: XPFO refuses it at
 * {@code initVerify} with an {@link InvalidKeyException}, as the JDK refuses it (one rule, the odd RSA
 * exponent, is stricter than the JDK and says so). The attacks that motivate the rules (CurveBall,
 * exponent 1, y = p + 1) are in {@link VerificationKeyParametersTest}; keys that keep the rules still
 * verify ({@link XpfoVerificationTest}, and the control here).
 */
class VerificationKeyChecksTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final byte[] MESSAGE = "a message".getBytes(StandardCharsets.UTF_8);
    /** P-256 as explicit ECParameters ({@code openssl ecparam -name prime256v1 -param_enc explicit}), generator left out. */
    private static final String P256_EXPLICIT_HEAD = "3081f7020101302c06072a8648ce3d0101022100ffffffff000000010000000000000000"
            + "00000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000000000fffffffffffffffffffffffc0420"
            + "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d360886e704936a6678e1139d26b7819f7e900441";
    private static final String P256_GENERATOR = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            + "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    private static final String P256_EXPLICIT_TAIL = "022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101";
    private static final String EC_PUBLIC_KEY_OID = "06072a8648ce3d0201";
    private static final String RSA_ALGORITHM = "300d06092a864886f70d0101010500";

    /**
     * The real P-256, spelled out: libcrypto recognises the curve (its group name is prime256v1), so only
     * the encoding rule refuses it. SunEC refuses every explicit encoding, and so does XPFO: one rule,
     * with no comparison of parameters to get wrong.
     */
    @Test
    void explicitParametersEqualToP256AreRefusedAsSunEcRefusesThem() throws Exception {
        KeyPair keys = ecKeys("secp256r1");
        byte[] point = ecPoint((ECPublicKey) keys.getPublic());
        byte[] parameters = HexFormat.of().parseHex(P256_EXPLICIT_HEAD + P256_GENERATOR + P256_EXPLICIT_TAIL);
        byte[] spki = der(0x30, der(0x30, HexFormat.of().parseHex(EC_PUBLIC_KEY_OID), parameters), der(3, new byte[] {0}, point));

        assertThatThrownBy(() -> KeyFactory.getInstance("EC", "SunEC").generatePublic(new X509EncodedKeySpec(spki)))
                .as("the JDK's answer").hasRootCauseMessage("Only named ECParameters supported");
        assertThat(refusal("SHA256withECDSA", new EncodedPublicKey("EC", "X.509", spki))).hasMessageContaining("explicit");
    }

    /**
     * secp256k1 is a named curve libcrypto verifies on, and SunEC does not (P-256, P-384 and P-521 only):
     * SunEC takes the key and refuses at {@code verify} ("Curve not supported"); XPFO refuses it earlier,
     * at {@code initVerify}.
     */
    @Test
    void aNamedCurveOtherThanP256P384P521IsRefused() throws Exception {
        byte[] generator = HexFormat.of().parseHex("0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                + "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"); // a point of secp256k1
        byte[] spki = der(0x30, der(0x30, HexFormat.of().parseHex(EC_PUBLIC_KEY_OID + "06052b8104000a")), der(3, new byte[] {0}, generator));

        Signature jdk = Signature.getInstance("SHA256withECDSA", "SunEC");
        jdk.initVerify(KeyFactory.getInstance("EC", "SunEC").generatePublic(new X509EncodedKeySpec(spki)));
        jdk.update(MESSAGE);
        assertThatThrownBy(() -> jdk.verify(new byte[] {0x30, 6, 2, 1, 1, 2, 1, 1}))
                .as("the JDK's answer").isInstanceOf(SignatureException.class).hasMessageContaining("Curve not supported");
        assertThat(refusal("SHA256withECDSA", new EncodedPublicKey("EC", "X.509", spki))).hasMessageContaining("secp256k1");
    }

    /**
     * The point at infinity (encoded as the single byte 00) as a P-256 public key: with it, u1·G + u2·Q is
     * u1·G, and anyone signs (r = x(k·G), s = z / k). SunEC reads uncompressed points only.
     */
    @Test
    void theP256PointAtInfinityIsRefusedAsTheJdkRefusesIt() throws Exception {
        byte[] spki = der(0x30, der(0x30, HexFormat.of().parseHex(EC_PUBLIC_KEY_OID + "06082a8648ce3d030107")), der(3, new byte[] {0}, new byte[] {0}));

        assertThatThrownBy(() -> KeyFactory.getInstance("EC", "SunEC").generatePublic(new X509EncodedKeySpec(spki)))
                .as("the JDK's answer").hasRootCauseMessage("Only uncompressed point format supported");
        assertThat(refusal("SHA256withECDSA", new EncodedPublicKey("EC", "X.509", spki))).hasMessageContaining("infinity");
    }

    @Test
    void anRsaModulusShorterThan512BitsIsRefusedAsTheJdkRefusesIt() throws Exception {
        assertRsaRefused(oddModulus(504), BigInteger.valueOf(65537), "at least 512 bits");
    }

    @Test
    void anRsaModulusLongerThan16384BitsIsRefusedAsTheJdkRefusesIt() throws Exception {
        assertRsaRefused(oddModulus(16392), BigInteger.valueOf(65537), "no longer than 16384 bits");
    }

    @Test
    void anRsaExponentLongerThan64BitsAboveA3072BitModulusIsRefusedAsTheJdkRefusesIt() throws Exception {
        assertRsaRefused(oddModulus(4096), BigInteger.TWO.pow(64).add(BigInteger.ONE), "no longer than 64 bits");
    }

    @Test
    void anRsaExponentNotSmallerThanTheModulusIsRefusedAsTheJdkRefusesIt() throws Exception {
        BigInteger modulus = oddModulus(2048);
        assertRsaRefused(modulus, modulus.add(BigInteger.TWO), "larger than modulus");
    }

    /** Stricter than the JDK, which takes any exponent of at least 3: an even one makes no RSA key. */
    @Test
    void anEvenRsaExponentIsRefused() throws Exception {
        BigInteger modulus = oddModulus(2048);
        PublicKey key = KeyFactory.getInstance("RSA", "SunRsaSign").generatePublic(new RSAPublicKeySpec(modulus, BigInteger.valueOf(65538)));
        assertThat(refusal("SHA256withRSA", key)).hasMessageContaining("exponent is even");
    }

    /** RSASSA-PSS reads RSA and RSA-PSS keys: the same rules hold for it. */
    @Test
    void rsassaPssAppliesTheSameRules() throws Exception {
        byte[] spki = rsaSpki(oddModulus(2048), BigInteger.ONE);
        assertThat(refusal("RSASSA-PSS", new EncodedPublicKey("RSA", "X.509", spki))).hasMessageContaining("smaller than 3");
    }

    /** A y below p with no x on the curve: SunEC refuses it at initVerify ("Invalid point"); libcrypto would answer false. */
    @Test
    void anEd25519KeyThatIsNoPointIsRefusedAsTheJdkRefusesIt() throws Exception {
        byte[] point = new byte[32];
        for (int y = 2; ; y++) {
            point[0] = (byte) y;
            if ("Invalid point".equals(Ed25519Points.whyNotAPoint(point, 0))) {
                break;
            }
        }
        byte[] spki = HexFormat.of().parseHex("302a300506032b6570032100" + HexFormat.of().formatHex(point));

        PublicKey jdkKey = KeyFactory.getInstance("Ed25519", "SunEC").generatePublic(new X509EncodedKeySpec(spki));
        assertThatThrownBy(() -> Signature.getInstance("Ed25519", "SunEC").initVerify(jdkKey))
                .as("the JDK's answer").isInstanceOf(InvalidKeyException.class).hasMessageContaining("Invalid point");
        assertThat(refusal("Ed25519", new EncodedPublicKey("Ed25519", "X.509", spki))).hasMessageContaining("Invalid point");
    }

    /** The control: named P-384 and P-521 keys, an RSA key with exponent 3, still verify what their private keys sign. */
    @Test
    void keysThatKeepTheRulesStillVerify() throws Exception {
        for (String curve : new String[] {"secp384r1", "secp521r1"}) {
            KeyPair keys = ecKeys(curve);
            assertThat(verifies("SHA256withECDSA", "SunEC", keys)).as(curve).isTrue();
        }
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA", "SunRsaSign");
        rsa.initialize(new java.security.spec.RSAKeyGenParameterSpec(2048, BigInteger.valueOf(3)));
        assertThat(verifies("SHA256withRSA", "SunRsaSign", rsa.generateKeyPair())).as("RSA, e = 3").isTrue();
    }

    private static void assertRsaRefused(BigInteger modulus, BigInteger exponent, String jdkWords) throws Exception {
        byte[] spki = rsaSpki(modulus, exponent);
        Throwable jdk = catchThrowable(() -> Signature.getInstance("SHA256withRSA", "SunRsaSign")
                .initVerify(KeyFactory.getInstance("RSA", "SunRsaSign").generatePublic(new X509EncodedKeySpec(spki))));
        assertThat(jdk).as("the JDK's answer").isNotNull();
        assertThat(rootMessage(jdk)).as("the JDK's answer").contains(jdkWords);
        assertThat(refusal("SHA256withRSA", new EncodedPublicKey("RSA", "X.509", spki))).hasMessageContaining(jdkWords);
    }

    private static Throwable refusal(String algorithm, PublicKey key) throws Exception {
        Signature xpfo = Signature.getInstance(algorithm, XPFO);
        Throwable thrown = catchThrowable(() -> xpfo.initVerify(key));
        assertThat(thrown).as("XPFO's initVerify").isInstanceOf(InvalidKeyException.class);
        return thrown;
    }

    private static boolean verifies(String algorithm, String signer, KeyPair keys) throws Exception {
        Signature sign = Signature.getInstance(algorithm, signer);
        sign.initSign(keys.getPrivate());
        sign.update(MESSAGE);
        byte[] signature = sign.sign();
        Signature verify = Signature.getInstance(algorithm, XPFO);
        verify.initVerify(keys.getPublic());
        verify.update(MESSAGE);
        return verify.verify(signature);
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return t.getMessage() + " / " + root.getMessage();
    }

    private static KeyPair ecKeys(String curve) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", "SunEC");
        generator.initialize(new ECGenParameterSpec(curve));
        return generator.generateKeyPair();
    }

    private static byte[] ecPoint(ECPublicKey key) {
        byte[] encoded = key.getEncoded();
        byte[] point = new byte[65];
        System.arraycopy(encoded, encoded.length - 65, point, 0, 65);
        return point;
    }

    /** An odd number of exactly {@code bits} bits: a public modulus as far as any check on a public key can tell. */
    private static BigInteger oddModulus(int bits) {
        return new BigInteger(bits, new SecureRandom()).setBit(bits - 1).setBit(0);
    }

    private static byte[] rsaSpki(BigInteger modulus, BigInteger exponent) {
        return der(0x30, HexFormat.of().parseHex(RSA_ALGORITHM),
                der(3, new byte[] {0}, der(0x30, der(2, modulus.toByteArray()), der(2, exponent.toByteArray()))));
    }
}
