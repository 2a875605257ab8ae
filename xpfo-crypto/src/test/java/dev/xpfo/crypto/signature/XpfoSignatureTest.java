// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.testing.TestKeys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Arrays;
import java.util.Random;
import javax.security.auth.Destroyable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * XPFO signs, the JDK's providers (SunEC, SunRsaSign) verify: every algorithm, short and long
 * messages, several signatures per init, a context reused across keys; tampered signatures and
 * other messages are rejected; wrong keys are refused. Verification by XPFO: {@link XpfoVerificationTest}.
 */
class XpfoSignatureTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final byte[] MESSAGE = "the quick brown fox".getBytes(StandardCharsets.UTF_8);

    static KeyPair xpfoKeys(String algorithm, String curveOrSize) throws Exception {
        return TestKeys.generate(algorithm, curveOrSize, XPFO);
    }

    static String jdkProvider(String algorithm) {
        return algorithm.contains("RSA") ? "SunRsaSign" : "SunEC";
    }

    static boolean jdkVerifies(String algorithm, PublicKey key, byte[] message, byte[] signature, PSSParameterSpec pss) throws Exception {
        Signature verifier = Signature.getInstance(algorithm, jdkProvider(algorithm));
        if (pss != null) {
            verifier.setParameter(pss);
        }
        verifier.initVerify(key);
        verifier.update(message);
        return verifier.verify(signature);
    }

    static byte[] xpfoSigns(String algorithm, KeyPair keys, byte[] message, PSSParameterSpec pss) throws Exception {
        Signature signer = Signature.getInstance(algorithm, XPFO);
        if (pss != null) {
            signer.setParameter(pss);
        }
        signer.initSign(keys.getPrivate());
        signer.update(message);
        return signer.sign();
    }

    @ParameterizedTest
    @CsvSource({
            "SHA256withECDSA, EC, secp256r1",
            "SHA384withECDSA, EC, secp384r1",
            "SHA512withECDSA, EC, secp384r1",
            "Ed25519, Ed25519, -",
            "EdDSA, Ed25519, -",
            "SHA256withRSA, RSA, 2048",
            "SHA384withRSA, RSA, 2048",
            "SHA512withRSA, RSA, 2048"})
    void xpfoSignsTheJdkVerifiesAndRejectsTampering(String algorithm, String keyAlgorithm, String curveOrSize) throws Exception {
        KeyPair keys = xpfoKeys(keyAlgorithm, curveOrSize);
        byte[] signature = xpfoSigns(algorithm, keys, MESSAGE, null);
        if (algorithm.contains("ECDSA")) {
            assertThat(signature[0]).as("DER ECDSA-Sig-Value, as the JDK's").isEqualTo((byte) 0x30);
        }
        assertThat(jdkVerifies(algorithm, keys.getPublic(), MESSAGE, signature, null)).isTrue();

        byte[] tampered = signature.clone();
        tampered[tampered.length / 2] ^= 0x01;
        assertThat(verifiesOrRefuses(algorithm, keys.getPublic(), MESSAGE, tampered)).isFalse();
        byte[] otherMessage = MESSAGE.clone();
        otherMessage[0] ^= 0x01;
        assertThat(jdkVerifies(algorithm, keys.getPublic(), otherMessage, signature, null)).isFalse();
    }

    /** A tampered DER signature may be refused as malformed rather than invalid: both are rejections. */
    private static boolean verifiesOrRefuses(String algorithm, PublicKey key, byte[] message, byte[] signature) throws Exception {
        try {
            return jdkVerifies(algorithm, key, message, signature, null);
        } catch (SignatureException malformed) {
            return false;
        }
    }

    @ParameterizedTest
    @CsvSource({"SHA-256, 32", "SHA-384, 48", "SHA-512, 64", "SHA-256, 0"})
    void rsassaPssWithTheParametersJsseUses(String digest, int salt) throws Exception {
        KeyPair keys = xpfoKeys("RSA", "2048");
        PSSParameterSpec pss = new PSSParameterSpec(digest, "MGF1", new MGF1ParameterSpec(digest), salt, PSSParameterSpec.TRAILER_FIELD_BC);
        byte[] signature = xpfoSigns("RSASSA-PSS", keys, MESSAGE, pss);
        assertThat(jdkVerifies("RSASSA-PSS", keys.getPublic(), MESSAGE, signature, pss)).isTrue();
        PSSParameterSpec otherSalt = new PSSParameterSpec(digest, "MGF1", new MGF1ParameterSpec(digest), salt + 1, 1);
        assertThat(jdkVerifies("RSASSA-PSS", keys.getPublic(), MESSAGE, signature, otherSalt)).isFalse();
        byte[] tampered = signature.clone();
        tampered[7] ^= 0x40;
        assertThat(jdkVerifies("RSASSA-PSS", keys.getPublic(), MESSAGE, tampered, pss)).isFalse();
    }

    @Test
    void rsassaPssParametersSetAfterInitSignAreUsed() throws Exception {
        KeyPair keys = xpfoKeys("RSA", "2048");
        PSSParameterSpec pss = new PSSParameterSpec("SHA-384", "MGF1", MGF1ParameterSpec.SHA384, 48, 1);
        Signature signer = Signature.getInstance("RSASSA-PSS", XPFO);
        signer.initSign(keys.getPrivate());
        signer.setParameter(pss);
        signer.update(MESSAGE);
        assertThat(jdkVerifies("RSASSA-PSS", keys.getPublic(), MESSAGE, signer.sign(), pss)).isTrue();
        assertThat(signer.getParameters().getParameterSpec(PSSParameterSpec.class).getSaltLength()).isEqualTo(48);
    }

    @Test
    void rsassaPssRefusesToSignWithoutParametersAndRefusesOddOnes() throws Exception {
        KeyPair keys = xpfoKeys("RSA", "2048");
        Signature signer = Signature.getInstance("RSASSA-PSS", XPFO);
        signer.initSign(keys.getPrivate());
        assertThatThrownBy(() -> signer.update(MESSAGE)).isInstanceOf(SignatureException.class).hasMessageContaining("setParameter");
        assertThatThrownBy(() -> signer.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 2)))
                .isInstanceOf(InvalidAlgorithmParameterException.class).hasMessageContaining("trailer");
        assertThatThrownBy(() -> signer.setParameter(new PSSParameterSpec("SHA-256", "MGF2", MGF1ParameterSpec.SHA256, 32, 1)))
                .isInstanceOf(InvalidAlgorithmParameterException.class).hasMessageContaining("MGF1");
    }

    @Test
    void oneContextSignsWithAP256ThenAP384KeyCorrectly() throws Exception {
        // The brief's trap: re-initialising a used EVP_MD_CTX with another key without a reset gave
        // invalid P-384 signatures.
        KeyPair p256 = xpfoKeys("EC", "secp256r1");
        KeyPair p384 = xpfoKeys("EC", "secp384r1");
        Signature signer = Signature.getInstance("SHA256withECDSA", XPFO);
        for (KeyPair keys : new KeyPair[] {p256, p384, p256, p384}) {
            signer.initSign(keys.getPrivate());
            signer.update(MESSAGE);
            assertThat(jdkVerifies("SHA256withECDSA", keys.getPublic(), MESSAGE, signer.sign(), null)).isTrue();
        }
    }

    @Test
    void severalSignaturesAfterOneInitAndMessagesLargerThanTheScratchBuffer() throws Exception {
        byte[] large = new byte[100_000];
        new Random(13).nextBytes(large);
        for (String[] setup : new String[][] {{"SHA256withECDSA", "EC", "secp256r1"}, {"Ed25519", "Ed25519", "-"}, {"SHA256withRSA", "RSA", "2048"}}) {
            KeyPair keys = xpfoKeys(setup[1], setup[2]);
            Signature signer = Signature.getInstance(setup[0], XPFO);
            signer.initSign(keys.getPrivate());
            signer.update(large, 0, 40_000);
            signer.update(large, 40_000, large.length - 40_000);
            byte[] first = signer.sign();
            signer.update(MESSAGE); // the second signature covers only what follows the first
            byte[] second = signer.sign();
            byte[] empty = signer.sign();
            assertThat(jdkVerifies(setup[0], keys.getPublic(), large, first, null)).as(setup[0]).isTrue();
            assertThat(jdkVerifies(setup[0], keys.getPublic(), MESSAGE, second, null)).as(setup[0]).isTrue();
            assertThat(jdkVerifies(setup[0], keys.getPublic(), new byte[0], empty, null)).as(setup[0]).isTrue();
            assertThat(jdkVerifies(setup[0], keys.getPublic(), Arrays.copyOf(large, 40_000), first, null)).isFalse();
        }
    }

    @Test
    void wrongKeyTypesAreRefusedClearly() throws Exception {
        KeyPair rsa = xpfoKeys("RSA", "2048");
        KeyPair ec = xpfoKeys("EC", "secp256r1");
        KeyPair ed = xpfoKeys("Ed25519", "-");
        KeyPair x25519 = xpfoKeys("X25519", "-");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initSign(rsa.getPrivate()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("needs an XPFO EC private key").hasMessageContaining("RSA");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withRSA", XPFO).initSign(ec.getPrivate()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("XPFO RSA");
        assertThatThrownBy(() -> Signature.getInstance("Ed25519", XPFO).initSign(x25519.getPrivate()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("Ed25519");
        assertThatThrownBy(() -> Signature.getInstance("RSASSA-PSS", XPFO).initSign(ed.getPrivate()))
                .isInstanceOf(InvalidKeyException.class);
        KeyPair jdkKeys = TestKeys.jdk("EC", "secp256r1");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initSign(jdkKeys.getPrivate()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("XPFO EC");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withECDSA", XPFO).initVerify(rsa.getPublic()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("verifies with an EC public key").hasMessageContaining("RSA");
        assertThatThrownBy(() -> Signature.getInstance("Ed25519", XPFO).initVerify(jdkKeys.getPublic()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("verifies with an Ed25519 public key").hasMessageContaining("EC");
        assertThatThrownBy(() -> Signature.getInstance("SHA256withRSA", XPFO).initVerify(ed.getPublic()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("verifies with an RSA public key");
        assertThatThrownBy(() -> Signature.getInstance("RSASSA-PSS", XPFO).initVerify(ec.getPublic()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("RSA public key");
        assertThatThrownBy(() -> Signature.getInstance("Ed25519", XPFO).initVerify(x25519.getPublic()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("XDH");
    }

    /**
     * Review L4: the context holds its own reference to the key's EVP_PKEY, so a signature under way
     * when the key is destroyed could still complete with the destroyed key's material.
     */
    @ParameterizedTest
    @CsvSource({"SHA256withECDSA, EC, secp256r1", "Ed25519, Ed25519, -", "SHA256withRSA, RSA, 2048"})
    void aKeyDestroyedAfterInitSignStopsTheSignatureUnderWay(String algorithm, String keyAlgorithm, String curveOrSize) throws Exception {
        KeyPair keys = xpfoKeys(keyAlgorithm, curveOrSize);
        Signature signer = Signature.getInstance(algorithm, XPFO);
        signer.initSign(keys.getPrivate());
        signer.update(MESSAGE);
        assertThat(jdkVerifies(algorithm, keys.getPublic(), MESSAGE, signer.sign(), null)).isTrue();
        signer.update(MESSAGE); // the next signature is under way
        ((Destroyable) keys.getPrivate()).destroy();
        assertThatThrownBy(signer::sign).isInstanceOf(SignatureException.class).hasMessageContaining("destroyed");
        assertThatThrownBy(() -> {
            signer.update(MESSAGE);
            signer.sign();
        }).isInstanceOf(SignatureException.class).hasMessageContaining("destroyed");
        assertThatThrownBy(() -> signer.initSign(keys.getPrivate())).isInstanceOf(InvalidKeyException.class).hasMessageContaining("destroyed");
    }

    @Test
    void signingBeforeInitIsRefused() throws Exception {
        Signature signer = Signature.getInstance("SHA256withECDSA", XPFO);
        assertThatThrownBy(() -> signer.update(MESSAGE)).isInstanceOf(SignatureException.class);
    }
}
