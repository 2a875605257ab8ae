// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.XpfoProvider;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidParameterException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Security;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.interfaces.XECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Key pairs generated inside libcrypto: standard public keys, XPFO private keys, sizes as asked. */
class XpfoKeyPairGeneratorTest {
    private static final Provider XPFO = new XpfoProvider();

    @Test
    void ecKeysOnP256AndP384ByNameOrSize() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", XPFO);
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        assertThat(fieldSize(generator.generateKeyPair())).isEqualTo(256);
        generator.initialize(new ECGenParameterSpec("secp384r1"));
        assertThat(fieldSize(generator.generateKeyPair())).isEqualTo(384);
        generator.initialize(256);
        assertThat(fieldSize(generator.generateKeyPair())).isEqualTo(256);
        generator.initialize(384);
        KeyPair keys = generator.generateKeyPair();
        assertThat(fieldSize(keys)).isEqualTo(384);
        assertThat(((XpfoEcPrivateKey) keys.getPrivate()).getParams()).isEqualTo(((ECPublicKey) keys.getPublic()).getParams());
    }

    /** JSSE asks for its ephemeral ECDHE keys with the curve's parameters, not its name. */
    @Test
    void ecKeysForTheCurvesParametersAsJsseGivesThem() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", XPFO);
        generator.initialize(jdkParameters("secp256r1"));
        assertThat(fieldSize(generator.generateKeyPair())).isEqualTo(256);
        generator.initialize(jdkParameters("secp384r1"));
        assertThat(fieldSize(generator.generateKeyPair())).isEqualTo(384);
        assertThatThrownBy(() -> generator.initialize(jdkParameters("secp521r1")))
                .isInstanceOf(InvalidAlgorithmParameterException.class).hasMessageContaining("neither");
        ECParameterSpec p256 = jdkParameters("secp256r1");
        ECParameterSpec otherGenerator = new ECParameterSpec(p256.getCurve(), jdkParameters("secp256r1").getGenerator(),
                p256.getOrder().subtract(BigInteger.TWO), p256.getCofactor());
        assertThatThrownBy(() -> generator.initialize(otherGenerator)).isInstanceOf(InvalidAlgorithmParameterException.class);
    }

    /** What JSSE does for an ECDHE key share: with XPFO first, the ephemeral private key is XPFO's. */
    @Test
    void xpfoFirstInTheListMakesJssesEphemeralEcKeys() throws Exception {
        Security.insertProviderAt(new XpfoProvider(), 1);
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(jdkParameters("secp256r1"), new SecureRandom());
            KeyPair keys = generator.generateKeyPair();
            assertThat(generator.getProvider().getName()).isEqualTo(XpfoProvider.NAME);
            assertThat(keys.getPrivate()).isInstanceOf(XpfoEcPrivateKey.class);
        } finally {
            Security.removeProvider(XpfoProvider.NAME);
        }
    }

    private static ECParameterSpec jdkParameters(String curve) throws Exception {
        AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC", "SunEC");
        parameters.init(new ECGenParameterSpec(curve));
        return parameters.getParameterSpec(ECParameterSpec.class);
    }

    @Test
    void twoGeneratedKeysDiffer() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("Ed25519", XPFO);
        assertThat(generator.generateKeyPair().getPublic()).isNotEqualTo(generator.generateKeyPair().getPublic());
    }

    @Test
    void unsupportedCurvesAndSizesAreRefused() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", XPFO);
        assertThatThrownBy(() -> generator.initialize(new ECGenParameterSpec("secp256k1")))
                .isInstanceOf(InvalidAlgorithmParameterException.class).hasMessageContaining("secp256k1");
        assertThatThrownBy(() -> generator.initialize(224)).isInstanceOf(InvalidParameterException.class);
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA", XPFO);
        assertThatThrownBy(() -> rsa.initialize(1024)).isInstanceOf(InvalidParameterException.class).hasMessageContaining("2048");
        assertThatThrownBy(() -> rsa.initialize(8192)).isInstanceOf(InvalidParameterException.class);
        assertThatThrownBy(() -> rsa.initialize(new RSAKeyGenParameterSpec(2048, BigInteger.valueOf(3))))
                .isInstanceOf(InvalidAlgorithmParameterException.class);
    }

    @Test
    void ed25519UnderBothNames() throws Exception {
        for (String name : new String[] {"Ed25519", "EdDSA"}) {
            KeyPair keys = KeyPairGenerator.getInstance(name, XPFO).generateKeyPair();
            assertThat(keys.getPublic()).isInstanceOf(EdECPublicKey.class);
            assertThat(((EdECPublicKey) keys.getPublic()).getParams().getName()).isEqualTo("Ed25519");
            assertThat(keys.getPrivate()).isInstanceOf(XpfoEdDsaPrivateKey.class);
        }
    }

    @Test
    void x25519UnderBothNames() throws Exception {
        for (String name : new String[] {"X25519", "XDH"}) {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(name, XPFO);
            generator.initialize(NamedParameterSpec.X25519);
            KeyPair keys = generator.generateKeyPair();
            assertThat(((NamedParameterSpec) ((XECPublicKey) keys.getPublic()).getParams()).getName()).isEqualTo("X25519");
            assertThat(keys.getPrivate()).isInstanceOf(XpfoXdhPrivateKey.class);
        }
        KeyPairGenerator generator = KeyPairGenerator.getInstance("X25519", XPFO);
        assertThatThrownBy(() -> generator.initialize(NamedParameterSpec.X448)).isInstanceOf(InvalidAlgorithmParameterException.class);
    }

    @Test
    void rsaKeysOfTheAskedSize() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA", XPFO);
        generator.initialize(new RSAKeyGenParameterSpec(2048, RSAKeyGenParameterSpec.F4));
        KeyPair keys = generator.generateKeyPair();
        assertThat(((RSAPublicKey) keys.getPublic()).getModulus().bitLength()).isEqualTo(2048);
        assertThat(((RSAPublicKey) keys.getPublic()).getPublicExponent()).isEqualTo(RSAKeyGenParameterSpec.F4);
        assertThat(((XpfoRsaPrivateKey) keys.getPrivate()).getModulus()).isEqualTo(((RSAPublicKey) keys.getPublic()).getModulus());
    }

    private static int fieldSize(KeyPair keys) {
        return ((ECPublicKey) keys.getPublic()).getParams().getCurve().getField().getFieldSize();
    }
}
