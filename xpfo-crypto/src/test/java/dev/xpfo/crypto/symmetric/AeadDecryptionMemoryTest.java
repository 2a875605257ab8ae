// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.heap.CryptoHeapStats;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.security.MessageDigest;
import java.security.Provider;
import java.security.spec.AlgorithmParameterSpec;
import java.util.Arrays;
import java.util.Random;

import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * AEAD decryption's memory: the message (ciphertext and plaintext) is the caller's and lives where the
 * caller keeps it; libcrypto's secret-memory heap, bounded by the memlock limit and never given back,
 * holds only keys and contexts. Before, decryption buffered the whole plaintext there: an ordinary user
 * with an 8 MiB memlock limit could not decrypt 16 MiB (an unchecked "CRYPTO_zalloc failed"), and a
 * decryption left its size allocated in the Cipher.
 */
class AeadDecryptionMemoryTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final int MIB = 1024 * 1024;
    /** What libcrypto's heap may gain over one decryption: contexts and lazily made state, far below the messages. */
    private static final long SLACK_BYTES = 256 * 1024;

    @ParameterizedTest
    @ValueSource(strings = {"AES/GCM/NoPadding", "ChaCha20-Poly1305"})
    void decryptingDoesNotGrowLibcryptosHeapWithTheMessage(String transformation) throws Exception {
        Cipher decrypt = Cipher.getInstance(transformation, XPFO);
        Round small = Round.prepare(transformation, 64 * 1024, decrypt);
        small.decryptAndCheck(); // the context's own state made once

        Round big = Round.prepare(transformation, 8 * MIB, decrypt);
        long before = CryptoHeap.stats().inUseBytes();
        big.decryptAndCheck();
        long grown = CryptoHeap.stats().inUseBytes() - before;

        assertThat(grown).as("bytes libcrypto's heap still holds after an 8 MiB decryption, the Cipher still alive")
                .isLessThan(SLACK_BYTES);
    }

    @Test
    void anOrdinaryUserWithAnEightMibMemlockLimitDecryptsSixteenMib() throws Exception {
        TestJvm.Result result = TestJvm.runUnprivileged(8L * MIB, DecryptBig.class, String.valueOf(16 * MIB));
        System.out.println(result.output());
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("AES/GCM/NoPadding decrypted 16777216 bytes")
                .contains("ChaCha20-Poly1305 decrypted 16777216 bytes");
    }

    /**
     * As an ordinary user: encrypts and decrypts a message of args[0] bytes in place (one buffer: the
     * child's Java heap is 64 MiB) with each AEAD; exit 4 if libcrypto's heap grew with it.
     */
    public static final class DecryptBig {
        public static void main(String[] args) throws Exception {
            int bytes = Integer.parseInt(args[0]);
            Provider xpfo = new XpfoProvider();
            for (String transformation : new String[] {"AES/GCM/NoPadding", "ChaCha20-Poly1305"}) {
                Cipher decrypt = Cipher.getInstance(transformation, xpfo);
                Round.prepare(transformation, 1024, decrypt).decryptAndCheck();
                boolean gcm = transformation.startsWith("AES");
                SecretKey key = KeyGenerator.getInstance(gcm ? "AES" : "ChaCha20", xpfo).generateKey();
                AlgorithmParameterSpec params = gcm ? new GCMParameterSpec(128, new byte[12]) : new IvParameterSpec(new byte[12]);
                byte[] buffer = new byte[bytes + 16];
                new Random(bytes).nextBytes(buffer);
                Arrays.fill(buffer, bytes, buffer.length, (byte) 0);
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(buffer, bytes));
                Cipher encrypt = Cipher.getInstance(transformation, xpfo);
                encrypt.init(Cipher.ENCRYPT_MODE, key, params);
                encrypt.doFinal(buffer, 0, bytes, buffer, 0);
                decrypt.init(Cipher.DECRYPT_MODE, key, params);
                CryptoHeapStats before = CryptoHeap.stats();
                int produced = decrypt.doFinal(buffer, 0, buffer.length, buffer, 0);
                CryptoHeapStats after = CryptoHeap.stats();
                MessageDigest check = MessageDigest.getInstance("SHA-256");
                check.update(buffer, 0, produced);
                if (produced != bytes || !Arrays.equals(check.digest(), digest)) {
                    System.out.println(transformation + ": decryption gave other bytes than were encrypted");
                    System.exit(5);
                }
                long grown = after.inUseBytes() - before.inUseBytes();
                if (grown >= SLACK_BYTES || after.arenaBytes() - before.arenaBytes() >= bytes) {
                    System.out.println(transformation + ": libcrypto's heap grew with the message: " + before + " -> " + after);
                    System.exit(4);
                }
                System.out.println(transformation + " decrypted " + bytes + " bytes; libcrypto's heap grew " + grown + " bytes, "
                        + "arena " + after.arenaBytes() + " bytes");
            }
        }
    }

    /** A message encrypted by XPFO, ready for the cipher to decrypt (and check). */
    private record Round(Cipher decrypt, SecretKey key, AlgorithmParameterSpec params, byte[] plaintext, byte[] ciphertext) {
        static Round prepare(String transformation, int bytes, Cipher decrypt) throws Exception {
            boolean gcm = transformation.startsWith("AES");
            SecretKey key = KeyGenerator.getInstance(gcm ? "AES" : "ChaCha20", decrypt.getProvider()).generateKey();
            byte[] nonce = new byte[12];
            new Random(bytes).nextBytes(nonce);
            AlgorithmParameterSpec params = gcm ? new GCMParameterSpec(128, nonce) : new IvParameterSpec(nonce);
            byte[] plaintext = new byte[bytes];
            new Random(bytes + 1).nextBytes(plaintext);
            Cipher encrypt = Cipher.getInstance(transformation, decrypt.getProvider());
            encrypt.init(Cipher.ENCRYPT_MODE, key, params);
            return new Round(decrypt, key, params, plaintext, encrypt.doFinal(plaintext));
        }

        void decryptAndCheck() throws Exception {
            decrypt.init(Cipher.DECRYPT_MODE, key, params);
            decrypt.update(ciphertext, 0, ciphertext.length / 2);
            byte[] out = decrypt.doFinal(ciphertext, ciphertext.length / 2, ciphertext.length - ciphertext.length / 2);
            if (!Arrays.equals(out, plaintext)) {
                throw new AssertionError("decryption gave other bytes than were encrypted");
            }
        }
    }
}
