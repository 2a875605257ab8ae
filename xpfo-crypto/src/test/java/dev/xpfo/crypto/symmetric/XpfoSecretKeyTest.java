// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;
import dev.xpfo.testing.SecretMemory;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.InvalidParameterException;
import java.security.Provider;

import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** XPFO secret keys are opaque: their bytes never come out, and destroy wipes them for good. */
class XpfoSecretKeyTest {
    private static final Provider XPFO = new XpfoProvider();

    @Test
    void generatedKeysAreOpaqueWithTheAlgorithmJcaExpects() throws Exception {
        for (String algorithm : new String[] {"AES", "ChaCha20", "HmacSHA256", "HmacSHA384", "HmacSHA512"}) {
            SecretKey key = KeyGenerator.getInstance(algorithm, XPFO).generateKey();

            assertThat(key).isInstanceOf(XpfoSecretKey.class);
            assertThat(key.getAlgorithm()).isEqualTo(algorithm);
            assertThat(key.getEncoded()).isNull();
            assertThat(key.getFormat()).isNull();
            assertThat(key.isDestroyed()).isFalse();
        }
    }

    @Test
    void keySizesAreTheRequestedOnesAndBadSizesAreRefused() throws Exception {
        KeyGenerator aes = KeyGenerator.getInstance("AES", XPFO);
        aes.init(128);
        assertThat(((XpfoSecretKey) aes.generateKey()).length()).isEqualTo(16);
        aes.init(256);
        assertThat(((XpfoSecretKey) aes.generateKey()).length()).isEqualTo(32);
        assertThat(((XpfoSecretKey) KeyGenerator.getInstance("HmacSHA512", XPFO).generateKey()).length()).isEqualTo(64);

        assertThatThrownBy(() -> aes.init(100)).isInstanceOf(InvalidParameterException.class).hasMessageContaining("128, 192 or 256");
        assertThatThrownBy(() -> KeyGenerator.getInstance("HmacSHA256", XPFO).init(33))
                .isInstanceOf(InvalidParameterException.class);
    }

    @Test
    void generatedKeysAreRandomNotFixed() throws Exception {
        KeyGenerator generator = KeyGenerator.getInstance("HmacSHA256", XPFO);
        byte[] message = "the same message".getBytes(StandardCharsets.UTF_8);

        assertThat(mac(generator.generateKey(), message)).isNotEqualTo(mac(generator.generateKey(), message));
    }

    @Test
    void toStringShowsNoKeyBytes() {
        byte[] bytes = Hex.bytes("00112233445566778899aabbccddeeff");
        XpfoSecretKey key = XpfoSecretKey.importForTest("AES", bytes);

        assertThat(key.toString()).isEqualTo("XpfoSecretKey[AES, 128 bits]")
                .doesNotContain("0011").doesNotContain("ccdd");
    }

    @Test
    void destroyWipesTheKeyAndLaterUsesAreRefused() throws Exception {
        SecretKey key = KeyGenerator.getInstance("HmacSHA256", XPFO).generateKey();
        key.destroy();
        key.destroy();

        assertThat(key.isDestroyed()).isTrue();
        assertThat(key.toString()).endsWith(", destroyed]");
        assertThatThrownBy(() -> Mac.getInstance("HmacSHA256", XPFO).init(key))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("destroyed");
    }

    @Test
    void keysCannotBeSerialised() throws Exception {
        SecretKey key = KeyGenerator.getInstance("AES", XPFO).generateKey();

        assertThatThrownBy(() -> new ObjectOutputStream(new ByteArrayOutputStream()).writeObject(key))
                .isInstanceOf(NotSerializableException.class);
    }

    @Test
    void aKeyFromASecretComputesWhatTheSameBytesComputeInTheJdk() throws Exception {
        SecretMemory.assumeAvailable();
        byte[] bytes = Hex.bytes("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
        byte[] message = "Hi There".getBytes(StandardCharsets.US_ASCII);
        try (SecretStore store = SecretStore.open(); Secret secret = store.copyOf(bytes.clone())) {
            XpfoSecretKey key = XpfoSecretKey.fromSecret(secret, "HmacSHA256");

            assertThat(mac(key, message)).isEqualTo(mac(new SecretKeySpec(bytes, "HmacSHA256"), message));
        }
    }

    @Test
    void unknownAlgorithmsAndBadAesSizesAreRefused() {
        assertThatThrownBy(() -> XpfoSecretKey.importForTest("DES", new byte[8])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XpfoSecretKey.importForTest("AES", new byte[20])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XpfoSecretKey.importForTest("ChaCha20", new byte[16])).isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] mac(SecretKey key, byte[] message) throws Exception {
        Mac mac = key instanceof XpfoSecretKey ? Mac.getInstance("HmacSHA256", XPFO) : Mac.getInstance("HmacSHA256", "SunJCE");
        mac.init(key);
        return mac.doFinal(message);
    }
}
