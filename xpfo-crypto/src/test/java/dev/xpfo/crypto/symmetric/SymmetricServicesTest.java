// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;

import org.junit.jupiter.api.Test;

import java.security.KeyPairGenerator;
import java.security.Provider;
import java.util.List;

import javax.crypto.spec.SecretKeySpec;

import static org.assertj.core.api.Assertions.assertThat;

/** The services claim XPFO keys only, so that the JDK's delayed selection never offers them other keys. */
class SymmetricServicesTest {
    private static final Provider XPFO = new XpfoProvider();

    @Test
    void macsAndCiphersClaimXpfoSecretKeysAndNothingElse() {
        for (String[] service : List.of(new String[] {"Mac", "HmacSHA256"}, new String[] {"Mac", "HmacSHA384"},
                new String[] {"Mac", "HmacSHA512"}, new String[] {"Cipher", "AES/GCM/NoPadding"}, new String[] {"Cipher", "ChaCha20-Poly1305"})) {
            Provider.Service s = XPFO.getService(service[0], service[1]);

            assertThat(s).as(service[1]).isNotNull();
            assertThat(s.supportsParameter(XpfoSecretKey.importForTest("AES", new byte[16]))).as(service[1]).isTrue();
            assertThat(s.supportsParameter(new SecretKeySpec(new byte[16], "AES"))).as(service[1]).isFalse();
        }
    }

    @Test
    void keyAgreementsClaimXpfoPrivateKeysAndNothingElse() throws Exception {
        for (String[] service : List.of(new String[] {"ECDH", "EC"}, new String[] {"X25519", "XDH"}, new String[] {"XDH", "XDH"})) {
            Provider.Service s = XPFO.getService("KeyAgreement", service[0]);
            var jdkKey = KeyPairGenerator.getInstance(service[1], "SunEC").generateKeyPair().getPrivate();

            assertThat(s.supportsParameter(new JdkKeyInLibcrypto(jdkKey))).as(service[0]).isTrue();
            assertThat(s.supportsParameter(jdkKey)).as(service[0]).isFalse();
        }
    }
}
