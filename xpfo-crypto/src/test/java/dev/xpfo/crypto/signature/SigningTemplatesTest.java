// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.Provider;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Signing templates: a key keeps one context per digest and padding, initialised once, and every new
 * {@code Signature} (JSSE makes one per handshake) copies it. Specified here: many threads signing at
 * once with one key through fresh {@code Signature} objects all make valid signatures (the JDK
 * verifies them); and destroying the key frees its material at once, templates included, even while
 * {@code Signature} objects that signed with it are still reachable, and stops them (review L4).
 */
class SigningTemplatesTest {
    private static final Provider XPFO = new XpfoProvider();
    private static final PSSParameterSpec PSS = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);

    private static Signature signer(String algorithm) throws Exception {
        Signature signer = Signature.getInstance(algorithm, XPFO);
        if (algorithm.equals("RSASSA-PSS")) {
            signer.setParameter(PSS);
        }
        return signer;
    }

    private static byte[] message(int thread, int n) {
        return ("handshake " + thread + "/" + n).getBytes(StandardCharsets.UTF_8);
    }

    @ParameterizedTest
    @CsvSource({
            "SHA256withECDSA, EC, secp256r1",
            "SHA384withECDSA, EC, secp384r1",
            "Ed25519, Ed25519, -",
            "SHA256withRSA, RSA, 2048",
            "RSASSA-PSS, RSA, 2048"})
    void threadsSigningWithOneKeyThroughFreshSignaturesAllMakeValidSignatures(String algorithm, String keyType, String curveOrSize)
            throws Exception {
        KeyPair keys = XpfoSignatureTest.xpfoKeys(keyType, curveOrSize);
        int threads = 4;
        int perThread = keyType.equals("RSA") ? 10 : 60;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<byte[]>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    List<byte[]> signatures = new ArrayList<>();
                    for (int n = 0; n < perThread; n++) {
                        Signature signer = signer(algorithm);
                        signer.initSign(keys.getPrivate());
                        signer.update(message(thread, n));
                        signatures.add(signer.sign());
                    }
                    return signatures;
                }));
            }
            for (int t = 0; t < threads; t++) {
                List<byte[]> signatures = results.get(t).get();
                for (int n = 0; n < perThread; n++) {
                    assertThat(XpfoSignatureTest.jdkVerifies(algorithm, keys.getPublic(), message(t, n), signatures.get(n),
                            algorithm.equals("RSASSA-PSS") ? PSS : null)).as("thread %d, signature %d", t, n).isTrue();
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(((XpfoPrivateKey) keys.getPrivate()).contextTemplates().size()).as("templates the key keeps").isEqualTo(1);
    }

    /**
     * A key destroyed while threads copy its template through fresh {@code Signature}s: each thread is
     * refused (at {@code initSign} or {@code sign}), says why, and the process survives (no copy reads
     * a freed template); the key holds no template afterwards.
     */
    @Test
    void aKeyDestroyedWhileThreadsSignStopsEveryThread() throws Exception {
        KeyPair keys = XpfoSignatureTest.xpfoKeys("EC", "secp256r1");
        int threads = 4;
        CountDownLatch signing = new CountDownLatch(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Exception>> stops = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                stops.add(pool.submit(() -> {
                    for (int n = 0; ; n++) {
                        try {
                            Signature signer = signer("SHA256withECDSA");
                            signer.initSign(keys.getPrivate());
                            signer.update(message(thread, n));
                            signer.sign();
                        } catch (InvalidKeyException | SignatureException e) {
                            return e;
                        }
                        if (n == 20) {
                            signing.countDown();
                        }
                    }
                }));
            }
            signing.await();
            keys.getPrivate().destroy();
            for (Future<Exception> stop : stops) {
                assertThat(stop.get()).hasMessageContaining("destroyed");
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(((XpfoPrivateKey) keys.getPrivate()).contextTemplates().size()).isZero();
    }

    /**
     * PSS parameters are per operation: a template is made per salt length (and digests), so a key
     * signing with several never signs with another's salt; past the templates a key keeps, signatures
     * initialise their own context and are still right.
     */
    @Test
    void pssSignaturesWithManySaltLengthsEachUseTheirOwn() throws Exception {
        KeyPair keys = XpfoSignatureTest.xpfoKeys("RSA", "2048");
        int saltLengths = 12;
        for (int round = 0; round < 2; round++) {
            for (int salt = 0; salt < saltLengths; salt++) {
                PSSParameterSpec spec = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, salt, 1);
                Signature signer = Signature.getInstance("RSASSA-PSS", XPFO);
                signer.setParameter(spec);
                signer.initSign(keys.getPrivate());
                signer.update(message(round, salt));
                byte[] signature = signer.sign();
                PSSParameterSpec other = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, salt + 1, 1);
                assertThat(XpfoSignatureTest.jdkVerifies("RSASSA-PSS", keys.getPublic(), message(round, salt), signature, spec))
                        .as("salt length %d", salt).isTrue();
                assertThat(XpfoSignatureTest.jdkVerifies("RSASSA-PSS", keys.getPublic(), message(round, salt), signature, other))
                        .as("salt length %d checked as %d", salt, salt + 1).isFalse();
            }
        }
        assertThat(((XpfoPrivateKey) keys.getPrivate()).contextTemplates().size()).as("templates the key keeps, at most")
                .isEqualTo(8);
    }

    /**
     * Signatures with three digests (three templates), each by a {@code Signature} kept reachable, as
     * JSSE's objects are until the collector runs. Destroying the key gives libcrypto's heap back the
     * key and its templates at once: more than destroying the same kind of key that never signed.
     * Before templates, each of those {@code Signature}s kept a reference to the key's {@code EVP_PKEY},
     * so destroy() freed nothing until they were collected.
     */
    @ParameterizedTest
    @CsvSource({
            "SHA256withECDSA, SHA384withECDSA, SHA512withECDSA, EC, secp256r1",
            "Ed25519, EdDSA, Ed25519, Ed25519, -",
            "SHA256withRSA, SHA384withRSA, RSASSA-PSS, RSA, 2048"})
    void destroyingAKeyFreesItAndItsTemplatesWhileItsSignersAreReachableAndStopsThem(String first, String second, String third,
                                                                                     String keyType, String curveOrSize) throws Exception {
        KeyPair unused = XpfoSignatureTest.xpfoKeys(keyType, curveOrSize);
        long beforeUnused = inUse();
        unused.getPrivate().destroy();
        long keyAlone = beforeUnused - inUse();

        KeyPair keys = XpfoSignatureTest.xpfoKeys(keyType, curveOrSize);
        List<Signature> signers = new ArrayList<>();
        for (String algorithm : List.of(first, second, third)) {
            for (int n = 0; n < 3; n++) {
                Signature signer = signer(algorithm);
                signer.initSign(keys.getPrivate());
                signer.update(message(0, n));
                assertThat(XpfoSignatureTest.jdkVerifies(algorithm, keys.getPublic(), message(0, n), signer.sign(),
                        algorithm.equals("RSASSA-PSS") ? PSS : null)).isTrue();
                signers.add(signer);
            }
        }
        Signature waiting = signer(first);
        waiting.initSign(keys.getPrivate()); // initialised, nothing signed yet: as JSSE between init and sign
        int templates = ((XpfoPrivateKey) keys.getPrivate()).contextTemplates().size();

        long before = inUse();
        keys.getPrivate().destroy();
        long freed = before - inUse();

        assertThat(keyAlone).as("bytes a key that never signed gives back").isPositive();
        assertThat(freed).as("bytes the key and its %d templates give back at destroy(), its signers still reachable", templates)
                .isGreaterThan(keyAlone);
        assertThat(((XpfoPrivateKey) keys.getPrivate()).contextTemplates().size()).as("templates after destroy()").isZero();
        assertThatThrownBy(() -> {
            waiting.update(message(0, 0));
            waiting.sign();
        }).isInstanceOf(SignatureException.class).hasMessageContaining("destroyed");
        for (Signature signer : signers) {
            assertThatThrownBy(() -> {
                signer.update(message(0, 0));
                signer.sign();
            }).isInstanceOf(SignatureException.class).hasMessageContaining("destroyed");
        }
        assertThatThrownBy(() -> signer(first).initSign(keys.getPrivate())).isInstanceOf(InvalidKeyException.class)
                .hasMessageContaining("destroyed");
    }

    private static long inUse() {
        return CryptoHeap.stats().inUseBytes();
    }
}
