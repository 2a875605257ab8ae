// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.testing.EncodedPublicKey;
import dev.xpfo.crypto.testing.TestKeys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * XPFO verifies: the JDK's signatures and its own, with the JDK's public keys and its own key pairs'
 * (which are JDK objects), answering tampered signatures as the JDK's providers do (false, or a
 * {@link SignatureException} for a signature that cannot be one) with one exception, where XPFO is
 * stricter: an ECDSA signature whose INTEGER r or s is not DER (negative, as r without its leading 00
 * byte) is a {@code SignatureException} in XPFO, while SunEC reads the INTEGER's magnitude and answers
 * true or false; wrong keys are refused and RSASSA-PSS parameters are honoured.
 */
class XpfoVerificationTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final byte[] MESSAGE = "the quick brown fox".getBytes(StandardCharsets.UTF_8);

    private static byte[] jdkSigns(String algorithm, KeyPair keys, byte[] message) throws Exception {
        Signature signer = Signature.getInstance(algorithm, XpfoSignatureTest.jdkProvider(algorithm));
        signer.initSign(keys.getPrivate());
        signer.update(message);
        return signer.sign();
    }

    private static boolean xpfoVerifies(String algorithm, PublicKey key, byte[] message, byte[] signature) throws Exception {
        Signature verifier = Signature.getInstance(algorithm, XPFO);
        verifier.initVerify(key);
        verifier.update(message);
        return verifier.verify(signature);
    }

    /** "true", "false" or the exception's class: what a verifier answered. */
    private static String answer(String algorithm, Provider provider, String providerName, PublicKey key, byte[] signature) {
        try {
            Signature verifier = provider != null ? Signature.getInstance(algorithm, provider) : Signature.getInstance(algorithm, providerName);
            verifier.initVerify(key);
            verifier.update(MESSAGE);
            return String.valueOf(verifier.verify(signature));
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    @ParameterizedTest
    @CsvSource({
            "SHA256withECDSA, EC, secp256r1",
            "SHA384withECDSA, EC, secp384r1",
            "SHA256withECDSA, EC, secp521r1",
            "Ed25519, Ed25519, -",
            "EdDSA, Ed25519, -",
            "SHA256withRSA, RSA, 2048",
            "SHA512withRSA, RSA, 3072"})
    void xpfoVerifiesTheJdksSignaturesAndItsOwn(String algorithm, String keyAlgorithm, String curveOrSize) throws Exception {
        KeyPair jdk = TestKeys.jdk(keyAlgorithm, curveOrSize);
        byte[] jdkSignature = jdkSigns(algorithm, jdk, MESSAGE);
        assertThat(xpfoVerifies(algorithm, jdk.getPublic(), MESSAGE, jdkSignature)).isTrue();
        byte[] otherMessage = MESSAGE.clone();
        otherMessage[3] ^= 0x20;
        assertThat(xpfoVerifies(algorithm, jdk.getPublic(), otherMessage, jdkSignature)).isFalse();

        if (!curveOrSize.equals("secp521r1")) { // XPFO generates P-256, P-384, Ed25519, RSA
            KeyPair xpfo = XpfoSignatureTest.xpfoKeys(keyAlgorithm, curveOrSize);
            byte[] xpfoSignature = XpfoSignatureTest.xpfoSigns(algorithm, xpfo, MESSAGE, null);
            assertThat(xpfoVerifies(algorithm, xpfo.getPublic(), MESSAGE, xpfoSignature)).isTrue();
            assertThat(xpfoVerifies(algorithm, xpfo.getPublic(), otherMessage, xpfoSignature)).isFalse();
            assertThat(xpfoVerifies(algorithm, jdk.getPublic(), MESSAGE, xpfoSignature)).as("another key").isFalse();
        }
    }

    @ParameterizedTest
    @CsvSource({
            "SHA256withECDSA, EC, secp256r1",
            "SHA384withECDSA, EC, secp384r1",
            "Ed25519, Ed25519, -",
            "SHA256withRSA, RSA, 2048"})
    void tamperedSignaturesAreAnsweredAsTheJdkAnswersThem(String algorithm, String keyAlgorithm, String curveOrSize) throws Exception {
        KeyPair keys = TestKeys.jdk(keyAlgorithm, curveOrSize);
        byte[] good = jdkSigns(algorithm, keys, MESSAGE);
        Map<String, byte[]> cases = new LinkedHashMap<>();
        cases.put("intact", good);
        for (int index : new int[] {0, 1, 3, good.length / 2, good.length - 1}) {
            byte[] flipped = good.clone();
            flipped[index] ^= 0x01;
            cases.put("bit 0 of byte " + index + " flipped", flipped);
        }
        cases.put("truncated by one byte", Arrays.copyOf(good, good.length - 1));
        cases.put("one byte appended", Arrays.copyOf(good, good.length + 1));
        cases.put("empty", new byte[0]);
        cases.put("zeros", new byte[good.length]);
        byte[] ones = new byte[good.length];
        Arrays.fill(ones, (byte) 0xff);
        cases.put("0xff bytes", ones);
        cases.put("not DER", "definitely not a signature".getBytes(StandardCharsets.UTF_8));
        if (algorithm.contains("ECDSA")) {
            cases.put("DER r=0 s=0", HexFormat.of().parseHex("3006020100020100"));
            cases.put("DER r=1 s=1", HexFormat.of().parseHex("3006020101020101"));
            cases.put("DER, one integer", HexFormat.of().parseHex("3003020101"));
        }
        if (algorithm.equals("Ed25519")) {
            // SunEC decodes R and throws when it is not a point; libcrypto only compares it: each of
            // these 32 flips makes R a non-point with probability about 1/2.
            for (int index = 0; index < 32; index++) {
                byte[] flipped = good.clone();
                flipped[index] ^= 0x04;
                cases.put("R: bit 2 of byte " + index + " flipped", flipped);
            }
            byte[] yIsP = good.clone(); // y = 2^255 - 19, not canonical
            yIsP[0] = (byte) 0xed;
            Arrays.fill(yIsP, 1, 31, (byte) 0xff);
            yIsP[31] = 0x7f;
            cases.put("R: y = p", yIsP);
            byte[] sIsL = good.clone(); // S = the group order
            System.arraycopy(HexFormat.of().parseHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"), 0, sIsL, 32, 32);
            cases.put("S = L", sIsL);
        }
        // None of these cases makes an ECDSA INTEGER negative: those are answered otherwise on purpose
        // (negativeEcdsaIntegersAreRefusedWhereTheJdkReadsTheirMagnitude).
        List<String> differences = new ArrayList<>();
        for (Map.Entry<String, byte[]> tampered : cases.entrySet()) {
            String jdk = answer(algorithm, null, XpfoSignatureTest.jdkProvider(algorithm), keys.getPublic(), tampered.getValue());
            String xpfo = answer(algorithm, XPFO, null, keys.getPublic(), tampered.getValue());
            if (!jdk.equals(xpfo)) {
                differences.add(tampered.getKey() + ": JDK " + jdk + ", XPFO " + xpfo);
            }
            if (!tampered.getKey().equals("intact")) {
                assertThat(xpfo).as(tampered.getKey()).isNotEqualTo("true");
            }
        }
        assertThat(differences).isEmpty();
        assertThat(answer(algorithm, XPFO, null, keys.getPublic(), good)).isEqualTo("true");
    }

    /**
     * Where XPFO answers otherwise than the JDK, on purpose: SunEC reads an ECDSA signature's INTEGERs
     * with {@code DerValue.getPositiveBigInteger} (their magnitude, negative or not), so r without its
     * leading 00 byte, a negative INTEGER, still verifies (a second encoding of the same signature:
     * malleable), and r given its high bit is a wrong value (false). libcrypto accepts only the DER
     * encoding; XPFO answers both with {@code SignatureException}, as for any signature that cannot be one.
     */
    @ParameterizedTest
    @CsvSource({"SHA256withECDSA, secp256r1", "SHA384withECDSA, secp384r1"})
    void negativeEcdsaIntegersAreRefusedWhereTheJdkReadsTheirMagnitude(String algorithm, String curve) throws Exception {
        KeyPair keys = TestKeys.jdk("EC", curve);
        byte[] withLeadingZero = null;
        byte[] withoutLeadingZero = null;
        while (withLeadingZero == null || withoutLeadingZero == null) { // r's high bit is set half the time
            byte[] signature = jdkSigns(algorithm, keys, MESSAGE);
            if (signature[1] < 0) {
                continue; // a two-byte DER length: keep the byte surgery below to the short form
            }
            if (signature[4] == 0) {
                withLeadingZero = signature;
            } else {
                withoutLeadingZero = signature;
            }
        }
        byte[] rWithoutItsZero = new byte[withLeadingZero.length - 1]; // 30 L 02 rl 00 r... -> 30 L-1 02 rl-1 r...
        rWithoutItsZero[0] = 0x30;
        rWithoutItsZero[1] = (byte) (withLeadingZero[1] - 1);
        rWithoutItsZero[2] = 2;
        rWithoutItsZero[3] = (byte) (withLeadingZero[3] - 1);
        System.arraycopy(withLeadingZero, 5, rWithoutItsZero, 4, withLeadingZero.length - 5);
        byte[] rNegative = withoutLeadingZero.clone();
        rNegative[4] |= (byte) 0x80;

        String jdkProvider = XpfoSignatureTest.jdkProvider(algorithm);
        assertThat(answer(algorithm, null, jdkProvider, keys.getPublic(), rWithoutItsZero)).as("the JDK, r without its 00").isEqualTo("true");
        assertThat(answer(algorithm, XPFO, null, keys.getPublic(), rWithoutItsZero)).as("XPFO, r without its 00")
                .isEqualTo("SignatureException");
        assertThat(answer(algorithm, null, jdkProvider, keys.getPublic(), rNegative)).as("the JDK, r negative").isEqualTo("false");
        assertThat(answer(algorithm, XPFO, null, keys.getPublic(), rNegative)).as("XPFO, r negative").isEqualTo("SignatureException");
        assertThat(answer(algorithm, XPFO, null, keys.getPublic(), withLeadingZero)).as("XPFO, the DER original").isEqualTo("true");
    }

    @Test
    void aVerifierIsReusableAfterEveryAnswer() throws Exception {
        KeyPair keys = TestKeys.jdk("EC", "secp256r1");
        byte[] good = jdkSigns("SHA256withECDSA", keys, MESSAGE);
        Signature verifier = Signature.getInstance("SHA256withECDSA", XPFO);
        verifier.initVerify(keys.getPublic());
        for (byte[] candidate : new byte[][] {good, new byte[] {1, 2, 3}, good, Arrays.copyOf(good, 20), good}) {
            verifier.update(MESSAGE, 0, 5);
            verifier.update(MESSAGE, 5, MESSAGE.length - 5);
            try {
                assertThat(verifier.verify(candidate)).isEqualTo(candidate == good);
            } catch (SignatureException malformed) {
                assertThat(candidate).isNotSameAs(good);
            }
        }
        byte[] large = new byte[100_000];
        new Random(13).nextBytes(large);
        for (String[] setup : new String[][] {{"SHA256withECDSA", "EC", "secp256r1"}, {"Ed25519", "Ed25519", "-"}}) {
            KeyPair pair = TestKeys.jdk(setup[1], setup[2]);
            byte[] signature = jdkSigns(setup[0], pair, large);
            Signature reader = Signature.getInstance(setup[0], XPFO);
            reader.initVerify(pair.getPublic());
            reader.update(large, 0, 40_000);
            reader.update(large, 40_000, large.length - 40_000);
            assertThat(reader.verify(signature)).as(setup[0] + ", a message larger than the scratch buffer").isTrue();
            reader.update(large, 0, 40_000); // the next verification covers only what follows
            assertThat(reader.verify(signature)).isFalse();
        }
    }

    @Test
    void theNextKeyIsUsedAfterTheLastOneWasRemembered() throws Exception {
        KeyPair first = TestKeys.jdk("EC", "secp256r1");
        KeyPair second = TestKeys.jdk("EC", "secp256r1");
        byte[] byFirst = jdkSigns("SHA256withECDSA", first, MESSAGE);
        Signature verifier = Signature.getInstance("SHA256withECDSA", XPFO);
        for (int round = 0; round < 2; round++) {
            verifier.initVerify(first.getPublic());
            verifier.update(MESSAGE);
            assertThat(verifier.verify(byFirst)).isTrue();
            verifier.initVerify(second.getPublic());
            verifier.update(MESSAGE);
            assertThat(verifier.verify(byFirst)).isFalse();
        }
    }

    @Test
    void theSameKeyObjectIsReadOnceAndAnotherOneAgain() throws Exception {
        KeyPair keys = TestKeys.jdk("EC", "secp256r1");
        byte[] signature = jdkSigns("SHA256withECDSA", keys, MESSAGE);
        int[] reads = new int[1];
        PublicKey counted = new EncodedPublicKey("EC", "X.509", () -> {
            reads[0]++;
            return keys.getPublic().getEncoded();
        });
        Signature verifier = Signature.getInstance("SHA256withECDSA", XPFO);
        for (int i = 0; i < 5; i++) {
            verifier.initVerify(counted);
            verifier.update(MESSAGE);
            assertThat(verifier.verify(signature)).isTrue();
        }
        assertThat(reads[0]).as("encodings read for five verifications with one key object").isEqualTo(1);
        verifier.initVerify(keys.getPublic());
        verifier.initVerify(counted);
        assertThat(reads[0]).as("another key in between: read again").isEqualTo(2);
    }

    @Test
    void oneSignatureObjectSignsThenVerifiesThenSignsAgain() throws Exception {
        KeyPair keys = XpfoSignatureTest.xpfoKeys("EC", "secp256r1");
        Signature signature = Signature.getInstance("SHA256withECDSA", XPFO);
        signature.initSign(keys.getPrivate());
        signature.update(MESSAGE);
        byte[] first = signature.sign();
        signature.initVerify(keys.getPublic());
        signature.update(MESSAGE);
        assertThat(signature.verify(first)).isTrue();
        signature.initSign(keys.getPrivate());
        signature.update(MESSAGE);
        byte[] second = signature.sign();
        assertThat(XpfoSignatureTest.jdkVerifies("SHA256withECDSA", keys.getPublic(), MESSAGE, second, null)).isTrue();
    }

    @Test
    void rsassaPssParametersAreHonoured() throws Exception {
        KeyPair keys = TestKeys.jdk("RSA", "2048");
        PSSParameterSpec sha256Salt32 = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);
        Signature signer = Signature.getInstance("RSASSA-PSS", "SunRsaSign");
        signer.setParameter(sha256Salt32);
        signer.initSign(keys.getPrivate());
        signer.update(MESSAGE);
        byte[] signature = signer.sign();

        Map<PSSParameterSpec, Boolean> expected = new LinkedHashMap<>();
        expected.put(sha256Salt32, true);
        expected.put(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 20, 1), false);
        expected.put(new PSSParameterSpec("SHA-384", "MGF1", MGF1ParameterSpec.SHA384, 32, 1), false);
        expected.put(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA384, 32, 1), false);
        for (Map.Entry<PSSParameterSpec, Boolean> entry : expected.entrySet()) {
            Signature verifier = Signature.getInstance("RSASSA-PSS", XPFO);
            verifier.setParameter(entry.getKey());
            verifier.initVerify(keys.getPublic());
            verifier.update(MESSAGE);
            assertThat(verifier.verify(signature)).as(entry.getKey().toString()).isEqualTo(entry.getValue());
            assertThat(XpfoSignatureTest.jdkVerifies("RSASSA-PSS", keys.getPublic(), MESSAGE, signature, entry.getKey()))
                    .as("the JDK agrees").isEqualTo(entry.getValue());
        }
        byte[] xpfoSigned = XpfoSignatureTest.xpfoSigns("RSASSA-PSS", XpfoSignatureTest.xpfoKeys("RSA", "2048"), MESSAGE, sha256Salt32);
        assertThat(xpfoSigned).hasSize(256);

        Signature unset = Signature.getInstance("RSASSA-PSS", XPFO);
        unset.initVerify(keys.getPublic());
        assertThatThrownBy(() -> {
            unset.update(MESSAGE);
            unset.verify(signature);
        }).isInstanceOf(SignatureException.class).hasMessageContaining("setParameter");
    }

    @Test
    void aPublicKeyWithoutAnEncodingIsTranslatedByTheJdk() throws Exception {
        KeyPair keys = TestKeys.jdk("EC", "secp256r1");
        ECPublicKey real = (ECPublicKey) keys.getPublic();
        ECPublicKey bare = new ECPublicKey() {
            @Override
            public ECPoint getW() {
                return real.getW();
            }

            @Override
            public ECParameterSpec getParams() {
                return real.getParams();
            }

            @Override
            public String getAlgorithm() {
                return "EC";
            }

            @Override
            public String getFormat() {
                return null;
            }

            @Override
            public byte[] getEncoded() {
                return null;
            }
        };
        assertThat(xpfoVerifies("SHA256withECDSA", bare, MESSAGE, jdkSigns("SHA256withECDSA", keys, MESSAGE))).isTrue();

        PublicKey unknown = new EncodedPublicKey("Nothing", "RAW", new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initVerify(unknown))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("no X.509 encoding");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initVerify((PublicKey) null))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("not null");
    }

    @Test
    void aPointOffTheCurveIsRefused() throws Exception {
        // An X.509 encoding whose point is not on P-256: libcrypto refuses to read it, as the JDK's KeyFactory does.
        KeyPair keys = TestKeys.jdk("EC", "secp256r1");
        byte[] encoded = keys.getPublic().getEncoded();
        encoded[encoded.length - 1] ^= 0x01;
        PublicKey offCurve = new EncodedPublicKey("EC", "X.509", encoded);
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initVerify(offCurve))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("cannot read");
    }
}
