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

    @Test
    void xpfoFirstInTheListLeavesJdkKeysToTheJdk() throws Exception {
        Security.insertProviderAt(new XpfoProvider(), 1);
        assertThat(signerOf("SHA384withECDSA", jdkKeys("EC", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("EdDSA", jdkKeys("Ed25519", "SunEC"))).isEqualTo("SunEC");
        assertThat(signerOf("SHA256withRSA", jdkKeys("RSA", "SunRsaSign"))).isEqualTo("SunRsaSign");
        assertThat(signerOf("SHA384withECDSA", XpfoSignatureTest.xpfoKeys("EC", "secp384r1"))).isEqualTo("XPFO");
    }
}
