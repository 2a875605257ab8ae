// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.XpfoProvider;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.security.interfaces.ECKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.interfaces.RSAKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.security.interfaces.XECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** An XPFO private key is opaque: no encoding, no material in toString, not serializable, destroyable. */
class XpfoPrivateKeyTest {
    private static final Provider XPFO = new XpfoProvider();

    static KeyPair generate(String algorithm) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm, XPFO);
        if (algorithm.equals("EC")) {
            generator.initialize(new ECGenParameterSpec("secp256r1"));
        } else if (algorithm.equals("RSA")) {
            generator.initialize(2048);
        }
        return generator.generateKeyPair();
    }

    @Test
    void everyKeyTypeHasNoEncodingAndTheAlgorithmNameJsseMatches() throws Exception {
        for (String[] pair : new String[][] {{"EC", "EC"}, {"Ed25519", "EdDSA"}, {"X25519", "XDH"}, {"RSA", "RSA"}}) {
            KeyPair keys = generate(pair[0]);
            assertThat(keys.getPrivate()).isInstanceOf(XpfoPrivateKey.class);
            assertThat(keys.getPrivate().getAlgorithm()).isEqualTo(pair[1]);
            assertThat(keys.getPublic().getAlgorithm()).isEqualTo(pair[1]);
            assertThat(keys.getPrivate().getEncoded()).isNull();
            assertThat(keys.getPrivate().getFormat()).isNull();
            assertThat(((XpfoPrivateKey) keys.getPrivate()).publicKey()).isSameAs(keys.getPublic());
        }
    }

    @Test
    void keysExposePublicParametersButNoneOfThePrivateInterfaces() throws Exception {
        KeyPair ec = generate("EC");
        assertThat(ec.getPrivate()).isInstanceOf(ECKey.class).isNotInstanceOf(ECPrivateKey.class);
        assertThat(((ECKey) ec.getPrivate()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);

        KeyPair rsa = generate("RSA");
        assertThat(rsa.getPrivate()).isInstanceOf(RSAKey.class).isNotInstanceOf(RSAPrivateKey.class);
        assertThat(((RSAKey) rsa.getPrivate()).getModulus()).isEqualTo(((RSAPublicKey) rsa.getPublic()).getModulus());

        assertThat(generate("Ed25519").getPrivate()).isNotInstanceOf(EdECPrivateKey.class);
        assertThat(generate("X25519").getPrivate()).isNotInstanceOf(XECPrivateKey.class);
    }

    @Test
    void toStringNamesTheKeyButNotItsMaterial() throws Exception {
        KeyPair rsa = generate("RSA");
        String text = rsa.getPrivate().toString();
        assertThat(text).contains("XPFO", "RSA", "2048-bit");
        String modulus = ((RSAPublicKey) rsa.getPublic()).getModulus().toString(16);
        assertThat(text).doesNotContain(modulus.substring(0, 16)).doesNotContain(modulus.substring(0, 16).toUpperCase());
        assertThat(text).doesNotContainPattern("[0-9a-fA-F]{16}");
        String ed = generate("Ed25519").getPrivate().toString();
        assertThat(ed).doesNotContainPattern("[0-9a-fA-F]{16}").doesNotContain(HexFormat.of().formatHex(new byte[8]));
    }

    @Test
    void aKeyCannotBeSerialized() throws Exception {
        KeyPair ec = generate("EC");
        try (ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())) {
            assertThatThrownBy(() -> out.writeObject(ec.getPrivate())).isInstanceOf(NotSerializableException.class);
        }
    }

    @Test
    void destroyReleasesTheKeyAndLaterUsesAreRefused() throws Exception {
        XpfoPrivateKey key = (XpfoPrivateKey) generate("EC").getPrivate();
        assertThat(key.isDestroyed()).isFalse();
        key.destroy();
        key.destroy(); // idempotent
        assertThat(key.isDestroyed()).isTrue();
        assertThat(key.toString()).contains("destroyed");
        assertThatThrownBy(key::newReference).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        Signature signature = Signature.getInstance("SHA256withECDSA", XPFO);
        assertThatThrownBy(() -> signature.initSign(key)).isInstanceOf(InvalidKeyException.class).hasMessageContaining("destroyed");
    }

    @Test
    void aKeyDestroyedAfterInitSignCannotSign() throws Exception {
        XpfoPrivateKey key = (XpfoPrivateKey) generate("Ed25519").getPrivate();
        Signature signature = Signature.getInstance("Ed25519", XPFO);
        signature.initSign(key);
        signature.update(new byte[] {1, 2, 3});
        key.destroy();
        assertThatThrownBy(signature::sign).hasMessageContaining("destroyed");
    }
}
