// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.heap.CryptoHeap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.security.auth.DestroyFailedException;
import javax.security.auth.Destroyable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Review finding L4: destroying a key stops the XPFO engines already keyed with it, and frees the copies
 * they hold in libcrypto (a Cipher's key schedule, a Mac's key and pads, a KeyAgreement's reference to
 * the private key): the next operation is refused, saying the key was destroyed, and libcrypto's heap
 * gets the engine's copy back at {@code destroy()}, not when the engine is collected. Before, each
 * engine went on computing with its copy.
 */
class KeyDestructionTest {
    private static final Provider XPFO = new XpfoProvider();
    /** More than a key (at most 64 bytes, in one block): a GCM or ChaCha20-Poly1305 state, or HMAC's three digest contexts. */
    private static final long MORE_THAN_THE_KEY = 256;

    @ParameterizedTest
    @ValueSource(strings = {"AES/GCM/NoPadding", "ChaCha20-Poly1305"})
    void aCipherKeyedWithADestroyedKeyRefusesAndItsKeyScheduleIsFreed(String transformation) throws Exception {
        boolean gcm = transformation.startsWith("AES");
        SecretKey key = KeyGenerator.getInstance(gcm ? "AES" : "ChaCha20", XPFO).generateKey();
        Cipher cipher = Cipher.getInstance(transformation, XPFO);
        cipher.init(Cipher.ENCRYPT_MODE, key, gcm ? new GCMParameterSpec(128, new byte[12]) : new IvParameterSpec(new byte[12]));
        cipher.update(new byte[10]);

        long freed = bytesFreedByDestroying(key);

        assertThatThrownBy(() -> cipher.doFinal(new byte[10])).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        assertThatThrownBy(() -> cipher.update(new byte[10])).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        assertThat(freed).as("bytes libcrypto's heap got back at destroy()").isGreaterThan(MORE_THAN_THE_KEY);

        SecretKey other = KeyGenerator.getInstance(gcm ? "AES" : "ChaCha20", XPFO).generateKey();
        cipher.init(Cipher.ENCRYPT_MODE, other, gcm ? new GCMParameterSpec(128, new byte[12]) : new IvParameterSpec(new byte[12]));
        assertThat(cipher.doFinal(new byte[10])).hasSize(26);
    }

    /**
     * The Mac's flaw (MacReinitDestructionTest) checked on the Cipher: an init refused a destroyed key keeps
     * knowing the key the context still holds, so that key's {@code destroy()} still frees its schedule.
     */
    @ParameterizedTest
    @ValueSource(strings = {"AES/GCM/NoPadding", "ChaCha20-Poly1305"})
    void aCipherRefusedASecondKeyStillFreesTheFirstKeysScheduleWhenThatKeyIsDestroyed(String transformation) throws Exception {
        boolean gcm = transformation.startsWith("AES");
        KeyGenerator generator = KeyGenerator.getInstance(gcm ? "AES" : "ChaCha20", XPFO);
        SecretKey first = generator.generateKey();
        SecretKey destroyed = generator.generateKey();
        destroyed.destroy();
        Cipher cipher = Cipher.getInstance(transformation, XPFO);
        cipher.init(Cipher.ENCRYPT_MODE, first, gcm ? new GCMParameterSpec(128, new byte[12]) : new IvParameterSpec(new byte[12]));
        cipher.update(new byte[10]);

        long keyed = CryptoHeap.stats().inUseBytes();
        assertThatThrownBy(() -> cipher.init(Cipher.ENCRYPT_MODE, destroyed,
                gcm ? new GCMParameterSpec(128, new byte[12]) : new IvParameterSpec(new byte[12])))
                .isInstanceOf(java.security.InvalidKeyException.class);
        first.destroy();
        long freed = keyed - CryptoHeap.stats().inUseBytes();

        assertThat(freed).as("bytes libcrypto's heap got back by the time the first key is destroyed").isGreaterThan(MORE_THAN_THE_KEY);
    }

    @Test
    void aDecryptionWaitingForItsTagIsRefusedToo() throws Exception {
        SecretKey key = KeyGenerator.getInstance("AES", XPFO).generateKey();
        Cipher encrypt = Cipher.getInstance("AES/GCM/NoPadding", XPFO);
        encrypt.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, new byte[12]));
        byte[] ciphertext = encrypt.doFinal(new byte[40]);
        Cipher decrypt = Cipher.getInstance("AES/GCM/NoPadding", XPFO);
        decrypt.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, new byte[12]));
        decrypt.update(ciphertext, 0, 20);

        key.destroy();

        assertThatThrownBy(() -> decrypt.doFinal(ciphertext, 20, ciphertext.length - 20))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
    }

    @Test
    void aMacKeyedWithADestroyedKeyRefusesAndItsCopyIsFreed() throws Exception {
        SecretKey key = KeyGenerator.getInstance("HmacSHA256", XPFO).generateKey();
        Mac mac = Mac.getInstance("HmacSHA256", XPFO);
        mac.init(key);
        mac.update(new byte[100]);

        long freed = bytesFreedByDestroying(key);

        assertThatThrownBy(mac::doFinal).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        assertThatThrownBy(() -> mac.update(new byte[1])).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        assertThat(freed).as("bytes libcrypto's heap got back at destroy()").isGreaterThan(MORE_THAN_THE_KEY);

        mac.init(KeyGenerator.getInstance("HmacSHA256", XPFO).generateKey());
        assertThat(mac.doFinal(new byte[3])).hasSize(32);
    }

    /**
     * A cipher decrypting on another thread (initialised once: a decrypting cipher goes back to its key
     * and IV after each doFinal) when the key is destroyed finishes that call, then is refused; nothing
     * crashes.
     */
    @Test
    void aKeyDestroyedWhileAnotherThreadDecryptsStopsThatThread() throws Exception {
        SecretKey key = KeyGenerator.getInstance("AES", XPFO).generateKey();
        Cipher encrypt = Cipher.getInstance("AES/GCM/NoPadding", XPFO);
        encrypt.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, new byte[12]));
        byte[] ciphertext = encrypt.doFinal(new byte[1024]);
        Cipher decrypt = Cipher.getInstance("AES/GCM/NoPadding", XPFO);
        decrypt.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, new byte[12]));
        AtomicReference<Throwable> stoppedBy = new AtomicReference<>();
        CountDownLatch running = new CountDownLatch(1);
        Thread worker = new Thread(() -> {
            try {
                for (int n = 0; n < 200_000; n++) {
                    decrypt.doFinal(ciphertext);
                    running.countDown();
                }
            } catch (Throwable t) {
                stoppedBy.set(t);
            }
        });
        worker.start();
        running.await();
        key.destroy();
        worker.join();

        assertThat(stoppedBy.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
    }

    @Test
    void aKeyAgreementWithADestroyedPrivateKeyRefusesAndHoldsNoReferenceToIt() throws Exception {
        KeyPair ours = KeyPairGenerator.getInstance("X25519", XPFO).generateKeyPair();
        KeyPair theirs = KeyPairGenerator.getInstance("X25519", "SunEC").generateKeyPair();
        KeyAgreement agreement = KeyAgreement.getInstance("X25519", XPFO);
        agreement.init(ours.getPrivate());

        long freed = bytesFreedByDestroying(ours.getPrivate());

        assertThatThrownBy(() -> agreement.doPhase(theirs.getPublic(), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
        assertThat(freed).as("bytes libcrypto's heap got back at destroy(): the EVP_PKEY and its key").isGreaterThan(64);
    }

    @Test
    void aSecretDerivedBeforeThePrivateKeyWasDestroyedIsWipedAndRefused() throws Exception {
        KeyPair ours = KeyPairGenerator.getInstance("X25519", XPFO).generateKeyPair();
        KeyPair theirs = KeyPairGenerator.getInstance("X25519", "SunEC").generateKeyPair();
        KeyAgreement agreement = KeyAgreement.getInstance("X25519", XPFO);
        agreement.init(ours.getPrivate());
        agreement.doPhase(theirs.getPublic(), true);

        ours.getPrivate().destroy();

        assertThatThrownBy(agreement::generateSecret).isInstanceOf(IllegalStateException.class).hasMessageContaining("destroyed");
    }

    /** Destroys {@code key}: how many bytes libcrypto's heap got back. */
    private static long bytesFreedByDestroying(Destroyable key) throws DestroyFailedException {
        long keyed = CryptoHeap.stats().inUseBytes();
        key.destroy();
        return keyed - CryptoHeap.stats().inUseBytes();
    }
}
