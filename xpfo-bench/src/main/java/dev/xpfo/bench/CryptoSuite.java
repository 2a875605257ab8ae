// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import dev.xpfo.crypto.XpfoProvider;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The XPFO provider (OpenSSL libcrypto, its heap out of the direct map) side by side with the JDK's own
 * providers (SunEC, SunRsaSign, SunJCE), Amazon Corretto Crypto Provider (AWS-LC) and BouncyCastle. Every
 * provider is asked by name and works with its own keys (XPFO's from XPFO's generators). Rows
 * {@code crypto.<operation>.<provider>}, ns per operation; ratios {@code xpfo/jdk} and {@code xpfo/accp} are
 * speed ratios (above 1: XPFO is faster). Each row's operation count is calibrated in the warm-up round so a
 * measured round takes about {@code millisPerRound}. A provider lacking an algorithm (ACCP 2.5.0 has no X25519
 * and no ChaCha20-Poly1305) or failing to load gives a skipped row naming the reason.
 */
final class CryptoSuite implements Suite {
    static final List<String> PROVIDERS = List.of("xpfo", "jdk", "accp", "bc");
    static final List<String> OPERATIONS = List.of("ecdsa_p256_sign", "ecdsa_p256_verify", "ed25519_sign", "rsa2048_sign", "x25519_agree",
            "aes256_gcm_1k", "aes256_gcm_16k", "chacha20_poly1305_1k", "hmac_sha256_1k");
    private static final byte[] ONE_KIB = message(1024);
    private static final byte[] SIXTEEN_KIB = message(16 * 1024);
    /** Keeps the JIT from dropping results. */
    static volatile Object sink;

    private final long millisPerRound;

    CryptoSuite(long millisPerRound) {
        this.millisPerRound = millisPerRound;
    }

    @Override
    public void run(Results results, int rounds) throws Exception {
        System.out.printf(Locale.ROOT, "crypto: about %d ms per row per round, %d rounds + calibrating warm-up:", millisPerRound, rounds);
        Map<String, Provider[]> providers = new LinkedHashMap<>();
        providers.put("xpfo", new Provider[] {new XpfoProvider()});
        providers.put("jdk", null);
        String accpProblem = accpProblem();
        if (accpProblem == null) {
            providers.put("accp", new Provider[] {AmazonCorrettoCryptoProvider.INSTANCE});
        }
        providers.put("bc", new Provider[] {new BouncyCastleProvider()});

        Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
        for (String operation : OPERATIONS) {
            for (String provider : PROVIDERS) {
                String row = "crypto." + operation + "." + provider;
                if (provider.equals("accp") && accpProblem != null) {
                    results.skipped(row, "Amazon Corretto Crypto Provider unavailable: " + accpProblem);
                    continue;
                }
                Provider[] named = providers.get(provider);
                Op op;
                try {
                    op = op(operation, named == null ? null : named[0]);
                    op.run(); // fails here, before measuring, if the provider lacks the algorithm or refuses the key
                } catch (Exception | LinkageError e) {
                    results.skipped(row, provider + " cannot do " + operation + ": " + e);
                    continue;
                }
                rows.put(row, new Calibrated(results, row, op, millisPerRound));
            }
        }
        Suite.interleave(rounds, rows);

        List<String> missed = new ArrayList<>();
        for (String operation : OPERATIONS) {
            String base = "crypto." + operation + ".";
            double jdk = results.ratio(base + "xpfo/jdk (speed)", base + "jdk", base + "xpfo");
            double accp = results.ratio(base + "xpfo/accp (speed)", base + "accp", base + "xpfo");
            results.ratio(base + "xpfo/bc (speed)", base + "bc", base + "xpfo");
            if (operation.endsWith("_sign")) {
                check(missed, operation + " xpfo/jdk >= 3", jdk, 3);
                check(missed, operation + " xpfo/accp >= 1/1.5", accp, 1 / 1.5);
            } else if (operation.startsWith("aes256_gcm")) {
                check(missed, operation + " xpfo/jdk >= 0.8", jdk, 0.8);
            }
        }
        results.verdict("crypto: signatures at least 3x the JDK and within 1.5x of ACCP, AES-GCM at least 0.8x the JDK: "
                + (missed.isEmpty() ? "met" : "MISSED " + String.join("; ", missed)));
    }

    private static void check(List<String> missed, String target, double ratio, double floor) {
        if (Double.isNaN(ratio)) {
            missed.add(target + " (not measured)");
        } else if (ratio < floor) {
            missed.add(String.format(Locale.ROOT, "%s (%.2f)", target, ratio));
        }
    }

    /** Why ACCP cannot be used (its native library or its self-tests failed), or null if it is healthy. */
    static String accpProblem() {
        try {
            AmazonCorrettoCryptoProvider accp = AmazonCorrettoCryptoProvider.INSTANCE;
            Throwable loading = accp.getLoadingError();
            if (loading != null) {
                return "loading failed: " + loading;
            }
            accp.assertHealthy();
            return null;
        } catch (Throwable e) {
            return "not healthy: " + e;
        }
    }

    /** One operation as a provider does it, with its own keys, made once. */
    @FunctionalInterface
    interface Op {
        void run() throws Exception;
    }

    private static Op op(String operation, Provider provider) throws Exception {
        return switch (operation) {
            case "ecdsa_p256_sign" -> sign("SHA256withECDSA", pair(provider, "EC", new ECGenParameterSpec("secp256r1"), 0), provider, "SunEC");
            case "ecdsa_p256_verify" -> verify("SHA256withECDSA", pair(provider, "EC", new ECGenParameterSpec("secp256r1"), 0), provider, "SunEC");
            case "ed25519_sign" -> sign("Ed25519", pair(provider, "Ed25519", null, 0), provider, "SunEC");
            case "rsa2048_sign" -> sign("SHA256withRSA", pair(provider, "RSA", null, 2048), provider, "SunRsaSign");
            case "x25519_agree" -> agree(provider);
            case "aes256_gcm_1k" -> aead("AES/GCM/NoPadding", "AES", 256, ONE_KIB, provider);
            case "aes256_gcm_16k" -> aead("AES/GCM/NoPadding", "AES", 256, SIXTEEN_KIB, provider);
            case "chacha20_poly1305_1k" -> aead("ChaCha20-Poly1305", "ChaCha20", 256, ONE_KIB, provider);
            case "hmac_sha256_1k" -> hmac(provider);
            default -> throw new IllegalArgumentException(operation);
        };
    }

    private static KeyPair pair(Provider provider, String algorithm, ECGenParameterSpec curve, int bits) throws Exception {
        KeyPairGenerator generator = provider == null ? KeyPairGenerator.getInstance(algorithm, jdk(algorithm))
                : KeyPairGenerator.getInstance(algorithm, provider);
        if (curve != null) {
            generator.initialize(curve);
        } else if (bits > 0) {
            generator.initialize(bits);
        }
        return generator.generateKeyPair();
    }

    private static String jdk(String algorithm) {
        return switch (algorithm) {
            case "RSA" -> "SunRsaSign";
            case "EC", "Ed25519", "X25519" -> "SunEC";
            default -> "SunJCE";
        };
    }

    private static Op sign(String algorithm, KeyPair pair, Provider provider, String jdkProvider) throws Exception {
        Signature signature = provider == null ? Signature.getInstance(algorithm, jdkProvider) : Signature.getInstance(algorithm, provider);
        // Every signature is checked once by the JDK: a provider that signs wrongly is not measured.
        Signature verifier = Signature.getInstance(algorithm, jdkProvider);
        verifier.initVerify(pair.getPublic());
        signature.initSign(pair.getPrivate());
        signature.update(ONE_KIB, 0, 32);
        byte[] first = signature.sign();
        verifier.update(ONE_KIB, 0, 32);
        if (!verifier.verify(first)) {
            throw new IllegalStateException(algorithm + " signature does not verify");
        }
        return () -> {
            signature.initSign(pair.getPrivate());
            signature.update(ONE_KIB, 0, 32);
            sink = signature.sign();
        };
    }

    /**
     * Verifies a signature the provider made with its own key pair, with a verifier asked for by name (for
     * XPFO: its EVP_DigestVerify path; delayed selection would give a public key to the JDK).
     */
    private static Op verify(String algorithm, KeyPair pair, Provider provider, String jdkProvider) throws Exception {
        Signature signer = provider == null ? Signature.getInstance(algorithm, jdkProvider) : Signature.getInstance(algorithm, provider);
        signer.initSign(pair.getPrivate());
        signer.update(ONE_KIB, 0, 32);
        byte[] signed = signer.sign();
        Signature verifier = provider == null ? Signature.getInstance(algorithm, jdkProvider) : Signature.getInstance(algorithm, provider);
        return () -> {
            verifier.initVerify(pair.getPublic());
            verifier.update(ONE_KIB, 0, 32);
            if (!verifier.verify(signed)) {
                throw new IllegalStateException(algorithm + " signature does not verify");
            }
        };
    }

    private static Op agree(Provider provider) throws Exception {
        KeyPair mine = pair(provider, "X25519", null, 0);
        KeyPair peer = pair(provider, "X25519", null, 0);
        KeyAgreement agreement = provider == null ? KeyAgreement.getInstance("X25519", "SunEC") : KeyAgreement.getInstance("X25519", provider);
        return () -> {
            agreement.init(mine.getPrivate());
            agreement.doPhase(peer.getPublic(), true);
            sink = agreement.generateSecret();
        };
    }

    /** Encrypts {@code message} under a fresh 12-byte nonce per operation (a cipher refuses a reused one). */
    private static Op aead(String transformation, String keyAlgorithm, int bits, byte[] message, Provider provider) throws Exception {
        SecretKey key = secretKey(keyAlgorithm, bits, provider);
        Cipher cipher = provider == null ? Cipher.getInstance(transformation, "SunJCE") : Cipher.getInstance(transformation, provider);
        byte[] nonce = new byte[12];
        byte[] out = new byte[message.length + 16];
        boolean gcm = transformation.startsWith("AES");
        long[] counter = {0};
        return () -> {
            long n = ++counter[0];
            for (int i = 0; i < 8; i++) {
                nonce[i] = (byte) (n >>> (8 * i));
            }
            cipher.init(Cipher.ENCRYPT_MODE, key, gcm ? new GCMParameterSpec(128, nonce) : new IvParameterSpec(nonce));
            sink = cipher.doFinal(message, 0, message.length, out, 0);
        };
    }

    /**
     * A key from the provider's own generator; a provider without one (ACCP has none for ChaCha20 or HMAC)
     * takes the JDK's generated key, as its ciphers accept any raw key.
     */
    private static SecretKey secretKey(String algorithm, int bits, Provider provider) throws Exception {
        KeyGenerator generator;
        if (provider == null) {
            generator = KeyGenerator.getInstance(algorithm, "SunJCE");
        } else {
            try {
                generator = KeyGenerator.getInstance(algorithm, provider);
            } catch (NoSuchAlgorithmException e) {
                if (provider.getName().equals(XpfoProvider.NAME)) {
                    throw e;
                }
                generator = KeyGenerator.getInstance(algorithm, "SunJCE");
            }
        }
        generator.init(bits);
        return generator.generateKey();
    }

    private static Op hmac(Provider provider) throws Exception {
        SecretKey key = secretKey("HmacSHA256", 256, provider);
        Mac mac = provider == null ? Mac.getInstance("HmacSHA256", "SunJCE") : Mac.getInstance("HmacSHA256", provider);
        mac.init(key);
        return () -> {
            mac.update(ONE_KIB);
            sink = mac.doFinal();
        };
    }

    private static byte[] message(int bytes) {
        byte[] message = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            message[i] = (byte) (i * 31 + 7);
        }
        return message;
    }

    /** A row whose warm-up runs for the round's time and sets how many operations each measured round does. */
    private static final class Calibrated implements Suite.RoundTask {
        private final Results results;
        private final String row;
        private final Op op;
        private final long millis;
        private long ops = -1;

        Calibrated(Results results, String row, Op op, long millis) {
            this.results = results;
            this.row = row;
            this.op = op;
            this.millis = millis;
        }

        @Override
        public void run(boolean measured) throws Exception {
            if (ops < 0) {
                long start = System.nanoTime();
                long done = 0;
                long budget = millis * 1_000_000L;
                while (System.nanoTime() - start < budget) {
                    op.run();
                    done++;
                }
                ops = Math.max(1, done);
            }
            if (!measured) {
                return;
            }
            long start = System.nanoTime();
            for (long i = 0; i < ops; i++) {
                op.run();
            }
            results.add(row, "ns/op", (System.nanoTime() - start) / (double) ops);
        }
    }
}
