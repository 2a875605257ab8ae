// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Security;
import java.security.Signature;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code SupportedKeyClasses}: with XPFO installed anywhere in the provider list, the JDK's delayed
 * provider selection gives XPFO keys to XPFO and JDK keys to the JDK.
 */
class DelayedSelectionTest {
    private static final byte[] MESSAGE = {1, 2, 3, 4};

    @AfterEach
    void uninstall() {
        Security.removeProvider(XpfoProvider.NAME);
    }

    private static KeyPair jdkKeys(String algorithm, String provider) throws Exception {
        return KeyPairGenerator.getInstance(algorithm, provider).generateKeyPair();
    }

    private static String signerOf(String algorithm, KeyPair keys) throws Exception {
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(keys.getPrivate());
        signer.update(MESSAGE);
        byte[] signature = signer.sign();
        assertThat(XpfoSignatureTest.jdkVerifies(algorithm, keys.getPublic(), MESSAGE, signature, null)).isTrue();
        return signer.getProvider().getName();
    }

    @Test
    void everySignatureServiceClaimsXpfoKeysOnly() throws Exception {
        XpfoProvider xpfo = new XpfoProvider();
        KeyPair jdkEc = jdkKeys("EC", "SunEC");
        KeyPair jdkEd = jdkKeys("Ed25519", "SunEC");
        KeyPair xpfoEc = XpfoSignatureTest.xpfoKeys("EC", "secp256r1");
        long signatures = xpfo.getServices().stream().filter(s -> s.getType().equals("Signature")).count();
        assertThat(signatures).isEqualTo(8);
        for (var service : xpfo.getServices()) {
            if (service.getType().equals("Signature")) {
                assertThat(service.supportsParameter(xpfoEc.getPrivate())).as(service.getAlgorithm()).isTrue();
                assertThat(service.supportsParameter(jdkEc.getPrivate())).as(service.getAlgorithm()).isFalse();
                assertThat(service.supportsParameter(jdkEd.getPrivate())).as(service.getAlgorithm()).isFalse();
                assertThat(service.supportsParameter(jdkEc.getPublic())).as(service.getAlgorithm()).isFalse();
            }
        }
    }

    @Test
    void xpfoLastInTheListStillSignsWithItsKeysAndOnlyThose() throws Exception {
        Security.addProvider(new XpfoProvider());
        assertThat(Security.getProviders()[Security.getProviders().length - 1].getName()).isEqualTo(XpfoProvider.NAME);
        assertThat(signerOf("SHA256withECDSA", XpfoSignatureTest.xpfoKeys("EC", "secp256r1"))).isEqualTo("XPFO");
        assertThat(signerOf("SHA256withECDSA", jdkKeys("EC", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("Ed25519", XpfoSignatureTest.xpfoKeys("Ed25519", "-"))).isEqualTo("XPFO");
        assertThat(signerOf("Ed25519", jdkKeys("Ed25519", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("SHA256withRSA", XpfoSignatureTest.xpfoKeys("RSA", "2048"))).isEqualTo("XPFO");
        assertThat(signerOf("SHA256withRSA", jdkKeys("RSA", "SunRsaSign"))).isEqualTo("SunRsaSign");
    }

    private static String verifierOf(String algorithm, KeyPair keys, byte[] signature) throws Exception {
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(keys.getPublic());
        verifier.update(MESSAGE);
        assertThat(verifier.verify(signature)).isTrue();
        return verifier.getProvider().getName();
    }

    /**
     * XPFO verifies, but only when asked by name: a public key matches no {@code SupportedKeyClasses},
     * so delayed selection passes XPFO by even when it is first, for the JDK's own keys and for the
     * public halves of XPFO key pairs (JDK objects) alike.
     */
    @Test
    void xpfoFirstInTheListLeavesVerificationToTheJdk() throws Exception {
        Security.insertProviderAt(new XpfoProvider(), 1);
        KeyPair xpfoEc = XpfoSignatureTest.xpfoKeys("EC", "secp256r1");
        assertThat(verifierOf("SHA256withECDSA", xpfoEc, XpfoSignatureTest.xpfoSigns("SHA256withECDSA", xpfoEc, MESSAGE, null))).isEqualTo("SunEC");
        KeyPair jdkEc = jdkKeys("EC", "SunEC");
        Signature jdkSigner = Signature.getInstance("SHA256withECDSA", "SunEC");
        jdkSigner.initSign(jdkEc.getPrivate());
        jdkSigner.update(MESSAGE);
        assertThat(verifierOf("SHA256withECDSA", jdkEc, jdkSigner.sign())).isEqualTo("SunEC");
        KeyPair xpfoEd = XpfoSignatureTest.xpfoKeys("Ed25519", "-");
        assertThat(verifierOf("Ed25519", xpfoEd, XpfoSignatureTest.xpfoSigns("Ed25519", xpfoEd, MESSAGE, null))).isEqualTo("SunEC");
        KeyPair xpfoRsa = XpfoSignatureTest.xpfoKeys("RSA", "2048");
        assertThat(verifierOf("SHA256withRSA", xpfoRsa, XpfoSignatureTest.xpfoSigns("SHA256withRSA", xpfoRsa, MESSAGE, null))).isEqualTo("SunRsaSign");
    }

    /** A {@code Signature} that delayed selection bound to XPFO (an XPFO key signed) verifies with XPFO. */
    @Test
    void aSignatureBoundToXpfoBySigningVerifiesWithXpfo() throws Exception {
        Security.addProvider(new XpfoProvider());
        KeyPair keys = XpfoSignatureTest.xpfoKeys("EC", "secp256r1");
        Signature signature = Signature.getInstance("SHA256withECDSA");
        signature.initSign(keys.getPrivate());
        signature.update(MESSAGE);
        byte[] signed = signature.sign();
        signature.initVerify(keys.getPublic());
        signature.update(MESSAGE);
        assertThat(signature.verify(signed)).isTrue();
        assertThat(signature.getProvider().getName()).isEqualTo("XPFO");
    }

    @Test
    void xpfoFirstInTheListLeavesJdkKeysToTheJdk() throws Exception {
        Security.insertProviderAt(new XpfoProvider(), 1);
        assertThat(signerOf("SHA384withECDSA", jdkKeys("EC", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("EdDSA", jdkKeys("Ed25519", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("SHA256withRSA", jdkKeys("RSA", "SunRsaSign"))).isEqualTo("SunRsaSign");
        assertThat(signerOf("SHA384withECDSA", XpfoSignatureTest.xpfoKeys("EC", "secp384r1"))).isEqualTo("XPFO");
    }
}
