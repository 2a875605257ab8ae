// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.testing.EncodedPublicKey;
import dev.xpfo.crypto.testing.TestKeys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.Provider;
import java.security.Security;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

import javax.crypto.KeyAgreement;
import javax.crypto.SecretKey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** XPFO's ECDH and X25519 agree with SunEC on both sides' secret, and refuse what gives none. */
class XpfoKeyAgreementTest {
    private static final Provider XPFO = new XpfoProvider();

    @ParameterizedTest
    @CsvSource({"ECDH, EC, secp256r1, 32", "ECDH, EC, secp384r1, 48", "ECDH, EC, secp521r1, 66", "X25519, XDH, X25519, 32", "XDH, XDH, X25519, 32"})
    void agreesWithSunEcOnBothSides(String agreement, String keyAlgorithm, String curve, int secretBytes) throws Exception {
        KeyPair ours = TestKeys.jdk(keyAlgorithm, curve);
        KeyPair theirs = TestKeys.jdk(keyAlgorithm, curve);

        KeyAgreement xpfo = KeyAgreement.getInstance(agreement, XPFO);
        xpfo.init(new JdkKeyInLibcrypto(ours.getPrivate()));
        assertThat(xpfo.doPhase(theirs.getPublic(), true)).isNull();
        byte[] secret = xpfo.generateSecret();

        KeyAgreement jdk = KeyAgreement.getInstance(agreement, "SunEC");
        jdk.init(theirs.getPrivate());
        jdk.doPhase(ours.getPublic(), true);
        assertThat(secret).hasSize(secretBytes).isEqualTo(jdk.generateSecret());

        xpfo.doPhase(theirs.getPublic(), true);
        SecretKey premaster = xpfo.generateSecret("TlsPremasterSecret");
        assertThat(premaster.getEncoded()).isEqualTo(secret);
        assertThatThrownBy(xpfo::generateSecret).isInstanceOf(IllegalStateException.class);
    }

    /** With the XPFO key pair generator (the keys' work, branch i13-keys); skipped where it is not registered. */
    @ParameterizedTest
    @CsvSource({"ECDH, EC, secp256r1", "X25519, X25519, X25519"})
    void agreesWithSunEcWithKeysXpfoGenerated(String agreement, String keyAlgorithm, String curve) throws Exception {
        assumeTrue(XPFO.getService("KeyPairGenerator", keyAlgorithm) != null, "XPFO has no KeyPairGenerator " + keyAlgorithm + " in this build");
        KeyPair ours = TestKeys.generate(keyAlgorithm, curve, XPFO);
        KeyPair theirs = TestKeys.jdk(keyAlgorithm.equals("EC") ? "EC" : "XDH", curve);
        Security.addProvider(XPFO);
        try {
            KeyAgreement xpfo = KeyAgreement.getInstance(agreement);
            xpfo.init(ours.getPrivate());
            assertThat(xpfo.getProvider().getName()).isEqualTo("XPFO");
            xpfo.doPhase(theirs.getPublic(), true);
            KeyAgreement jdk = KeyAgreement.getInstance(agreement, "SunEC");
            jdk.init(theirs.getPrivate());
            jdk.doPhase(ours.getPublic(), true);

            assertThat(xpfo.generateSecret()).isEqualTo(jdk.generateSecret());
        } finally {
            Security.removeProvider("XPFO");
        }
    }

    @Test
    void anX25519PeerOfSmallOrderIsRefusedAsTheJdkRefusesIt() throws Exception {
        KeyAgreement xpfo = KeyAgreement.getInstance("X25519", XPFO);
        xpfo.init(new JdkKeyInLibcrypto(TestKeys.jdk("XDH", "X25519").getPrivate()));
        // SubjectPublicKeyInfo of X25519 (OID 1.3.101.110) with the all-zero point.
        PublicKey zero = KeyFactory.getInstance("XDH").generatePublic(new X509EncodedKeySpec(
                HexFormat.of().parseHex("302a300506032b656e032100" + "00".repeat(32))));

        assertThatThrownBy(() -> xpfo.doPhase(zero, true)).isInstanceOf(InvalidKeyException.class);
    }

    @Test
    void aPeerOnAnotherCurveIsRefused() throws Exception {
        KeyAgreement xpfo = KeyAgreement.getInstance("ECDH", XPFO);
        xpfo.init(new JdkKeyInLibcrypto(TestKeys.jdk("EC", "secp256r1").getPrivate()));

        assertThatThrownBy(() -> xpfo.doPhase(TestKeys.jdk("EC", "secp384r1").getPublic(), true)).isInstanceOf(InvalidKeyException.class);
    }

    @Test
    void aPeerOfAnotherTypeIsRefusedClearly() throws Exception {
        KeyAgreement ecdh = KeyAgreement.getInstance("ECDH", XPFO);
        ecdh.init(new JdkKeyInLibcrypto(TestKeys.jdk("EC", "secp256r1").getPrivate()));
        KeyAgreement x25519 = KeyAgreement.getInstance("X25519", XPFO);
        x25519.init(new JdkKeyInLibcrypto(TestKeys.jdk("XDH", "X25519").getPrivate()));

        assertThatThrownBy(() -> ecdh.doPhase(TestKeys.jdk("XDH", "X25519").getPublic(), true))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("takes the peer's EC public key, not XDH key");
        // Ed25519 and X25519 keys are both 32 bytes on Curve25519: the OID decides.
        assertThatThrownBy(() -> x25519.doPhase(TestKeys.jdk("Ed25519", "-").getPublic(), true))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("takes the peer's X25519 public key, not EdDSA key");
    }

    /** The attack on the fast path (the point read from the X.509 prefix, not by d2i_PUBKEY): a P-256 point moved off the curve. */
    @Test
    void aP256PeerPointOffTheCurveIsRefused() throws Exception {
        KeyAgreement xpfo = KeyAgreement.getInstance("ECDH", XPFO);
        xpfo.init(new JdkKeyInLibcrypto(TestKeys.jdk("EC", "secp256r1").getPrivate()));
        byte[] encoded = TestKeys.jdk("EC", "secp256r1").getPublic().getEncoded();
        encoded[encoded.length - 1] ^= 1; // the last byte of y
        PublicKey offCurve = new EncodedPublicKey("EC", "X.509", encoded);

        assertThat(encoded).hasSize(91);
        assertThatThrownBy(() -> xpfo.doPhase(offCurve, true)).isInstanceOf(InvalidKeyException.class).hasMessageContaining("P-256");
    }

    @Test
    void keysThatAreNotXpfoKeysOrOfTheWrongTypeAreRefusedClearly() throws Exception {
        KeyAgreement ecdh = KeyAgreement.getInstance("ECDH", XPFO);

        assertThatThrownBy(() -> ecdh.init(TestKeys.jdk("EC", "secp256r1").getPrivate()))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("takes only XPFO private keys");
        assertThatThrownBy(() -> ecdh.init(new JdkKeyInLibcrypto(TestKeys.jdk("XDH", "X25519").getPrivate())))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("needs an EC key");
        assertThatThrownBy(() -> ecdh.doPhase(TestKeys.jdk("EC", "secp256r1").getPublic(), true)).isInstanceOf(IllegalStateException.class);
    }

    /** Delayed provider selection: XPFO last in the list still gets XPFO keys, and JDK keys stay with SunEC. */
    @Test
    void xpfoKeysGoToXpfoWhereverItSits() throws Exception {
        Security.addProvider(XPFO);
        try {
            for (String[] kind : new String[][] {{"ECDH", "EC", "secp256r1"}, {"X25519", "XDH", "X25519"}}) {
                KeyAgreement forXpfoKey = KeyAgreement.getInstance(kind[0]);
                forXpfoKey.init(new JdkKeyInLibcrypto(TestKeys.jdk(kind[1], kind[2]).getPrivate()));
                assertThat(forXpfoKey.getProvider().getName()).isEqualTo("XPFO");

                KeyAgreement forJdkKey = KeyAgreement.getInstance(kind[0]);
                forJdkKey.init(TestKeys.jdk(kind[1], kind[2]).getPrivate());
                assertThat(forJdkKey.getProvider().getName()).isEqualTo("SunEC");
            }
        } finally {
            Security.removeProvider("XPFO");
        }
    }
}
