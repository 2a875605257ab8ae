// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.memory.NativeCallException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A PKCS#8 file (PEM or DER) becomes an XPFO key that is the same key: what XPFO signs with it, the
 * JDK verifies with the JDK's own public key of the pair that was written.
 */
class PrivateKeyFilesTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final byte[] MESSAGE = "imported".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path directory;

    private static KeyPair jdkKeys(String algorithm, int size) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
        if (size > 0) {
            generator.initialize(size);
        }
        return generator.generateKeyPair();
    }

    private Path der(KeyPair keys) throws Exception {
        return Files.write(directory.resolve("key.der"), keys.getPrivate().getEncoded());
    }

    private Path pem(KeyPair keys) throws Exception {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(keys.getPrivate().getEncoded());
        return Files.writeString(directory.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n");
    }

    private static void assertSameKey(XpfoPrivateKey imported, KeyPair written, String algorithm) throws Exception {
        assertThat(imported.publicKey()).isEqualTo(written.getPublic());
        Signature signer = Signature.getInstance(algorithm, XPFO);
        signer.initSign(imported);
        signer.update(MESSAGE);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm, algorithm.contains("RSA") ? "SunRsaSign" : "SunEC");
        verifier.initVerify(written.getPublic());
        verifier.update(MESSAGE);
        assertThat(verifier.verify(signature)).isTrue();
    }

    @Test
    void ecPkcs8PemAndDer() throws Exception {
        KeyPair keys = jdkKeys("EC", 256);
        XpfoPrivateKey fromPem = PrivateKeyFiles.read(pem(keys));
        XpfoPrivateKey fromDer = PrivateKeyFiles.read(der(keys));
        assertThat(fromPem).isInstanceOf(XpfoEcPrivateKey.class);
        assertThat(fromPem.getEncoded()).isNull();
        assertSameKey(fromPem, keys, "SHA256withECDSA");
        assertSameKey(fromDer, keys, "SHA256withECDSA");
    }

    @Test
    void ed25519AndRsaPkcs8() throws Exception {
        KeyPair ed = jdkKeys("Ed25519", 0);
        assertSameKey(PrivateKeyFiles.read(pem(ed)), ed, "Ed25519");
        KeyPair rsa = jdkKeys("RSA", 2048);
        XpfoPrivateKey imported = PrivateKeyFiles.read(der(rsa));
        assertThat(imported.getAlgorithm()).isEqualTo("RSA");
        assertSameKey(imported, rsa, "SHA256withRSA");
    }

    @Test
    void deterministicSignaturesEqualTheJdksBytesForBytesWithTheSameKey() throws Exception {
        // Ed25519 and PKCS#1 v1.5 are deterministic: the same key and message must give the JDK's signature.
        for (String[] setup : new String[][] {{"Ed25519", "Ed25519", "0"}, {"SHA256withRSA", "RSA", "2048"}}) {
            KeyPair keys = jdkKeys(setup[1], Integer.parseInt(setup[2]));
            XpfoPrivateKey imported = PrivateKeyFiles.read(pem(keys));
            Signature jdk = Signature.getInstance(setup[0], setup[1].equals("RSA") ? "SunRsaSign" : "SunEC");
            jdk.initSign(keys.getPrivate());
            Signature xpfo = Signature.getInstance(setup[0], XPFO);
            xpfo.initSign(imported);
            for (int round = 0; round < 3; round++) { // the context re-initialised in place keeps giving the same answer
                jdk.update(MESSAGE);
                xpfo.update(MESSAGE);
                assertThat(xpfo.sign()).as(setup[0]).isEqualTo(jdk.sign());
            }
            Files.delete(directory.resolve("key.pem"));
        }
    }

    @Test
    void x25519Pkcs8() throws Exception {
        KeyPair x = jdkKeys("X25519", 0);
        XpfoPrivateKey imported = PrivateKeyFiles.read(der(x));
        assertThat(imported).isInstanceOf(XpfoXdhPrivateKey.class);
        assertThat(imported.publicKey()).isEqualTo(x.getPublic());
    }

    @Test
    void whatIsNotAPrivateKeyIsRefusedClearly() throws Exception {
        Path garbage = Files.write(directory.resolve("garbage.der"), new byte[] {0x30, 0x03, 0x02, 0x01, 0x00});
        assertThatThrownBy(() -> PrivateKeyFiles.read(garbage)).isInstanceOf(InvalidKeyException.class)
                .hasMessageContaining("no private key");
        Path certificateLike = Files.writeString(directory.resolve("c.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> PrivateKeyFiles.read(certificateLike)).isInstanceOf(InvalidKeyException.class);
        Path encrypted = Files.writeString(directory.resolve("e.pem"),
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assertThatThrownBy(() -> PrivateKeyFiles.read(encrypted)).isInstanceOf(InvalidKeyException.class).hasMessageContaining("encrypted");
        assertThatThrownBy(() -> PrivateKeyFiles.read(directory.resolve("absent.pem"))).isInstanceOf(NativeCallException.class)
                .hasMessageContaining("open");
    }
}
