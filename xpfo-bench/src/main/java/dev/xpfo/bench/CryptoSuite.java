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
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The XPFO provider (OpenSSL libcrypto, its heap out of the direct map) side by side with the JDK's own
 * providers (SunEC, SunRsaSign, SunJCE), Amazon Corretto Crypto Provider (AWS-LC) and BouncyCastle. Every
 * provider is asked by name and works with its own keys (XPFO's from XPFO's generators). Rows
 * {@code crypto.<operation>.<provider>}, ns per operation; ratios {@code xpfo/jdk} and {@code xpfo/accp} are
 * speed ratios (above 1: XPFO is faster). Each row's warm-up round lasts until the JIT is done with it and sets
 * its operation count so a measured round takes about {@code millisPerRound}; each measured round re-settles
 * first (see {@link #warmUntilSteady}, {@link #resettle}). Signatures are checked by the JDK and verifiers must
 * reject a tampered signature before they are measured. A provider lacking an algorithm (ACCP 2.5.0 has no X25519
 * and no ChaCha20-Poly1305) or failing to load gives a skipped row naming the reason.
 *
 * <p>Two parts run in child processes, because what they compare is set process-wide:
 * <ul>
 *   <li>TLS 1.3 handshakes ({@code crypto.tls13_handshake.<configuration>}, {@link #TLS_CONFIGURATIONS}, ns per
 *       full handshake, client and server
 *       in one thread; {@code .server_side}: the server engine's share; {@code .part.<operation>}: each
 *       public-key operation of a handshake alone, see {@link HandshakeParts}): JSSE takes its algorithms from the
 *       provider list, so each configuration gets a JVM of its own ({@link TlsHandshakeChild}), all alive at
 *       once and their rounds interleaved. The EC P-256 key and its self-signed certificate are made by
 *       {@code openssl req} (the tests' {@code SelfSignedFiles} does the same).</li>
 *   <li>The allocation hook ({@code crypto.hook.<operation>.plain} and {@code .xpfo_heap}, ns per operation):
 *       the C program {@code crypto_hook_baseline} (src/main/c, compiled by the bench script with libcrypto and
 *       xpfo's allocator) once with libcrypto's heap on libc's malloc and once on xpfo's allocator over secret
 *       memory, rounds interleaved; then once more each with a counting wrapper for
 *       {@code .allocations} (malloc and realloc calls per operation).</li>
 * </ul>
 */
final class CryptoSuite implements Suite {
    static final List<String> PROVIDERS = List.of("xpfo", "jdk", "accp", "bc");
    /**
     * The handshake rows' configurations: XPFO last in the provider list (it signs only) and XPFO first (it also
     * makes JSSE's ephemeral key shares and computes their agreements), then the others as in {@link #PROVIDERS}.
     */
    static final List<String> TLS_CONFIGURATIONS = List.of("xpfo", "xpfo_first", "jdk", "accp", "bc");
    static final List<String> OPERATIONS = List.of("ecdsa_p256_sign", "ecdsa_p256_verify", "ed25519_sign", "rsa2048_sign", "x25519_agree",
            "aes256_gcm_1k", "aes256_gcm_16k", "chacha20_poly1305_1k", "hmac_sha256_1k");
    private static final byte[] ONE_KIB = message(1024);
    private static final byte[] SIXTEEN_KIB = message(16 * 1024);
    /** Keeps the JIT from dropping results. */
    static volatile Object sink;

    static final List<String> HOOK_OPERATIONS = List.of("ecdsa_p256_sign_fresh", "ecdsa_p256_sign_reused", "ed25519_sign",
            "aes256_gcm_1k", "aes256_gcm_16k", "hmac_sha256_1k");
    static final List<String> HOOK_MODES = List.of("plain", "xpfo_heap");
    /** Operations per allocation count: the counts are exact, the same every time. */
    private static final int COUNTED_OPS = 100;

    private final long millisPerRound;
    private final Path hookBaseline;

    /** {@code hookBaseline}: the compiled {@code crypto_hook_baseline}, or null if the bench script could not build it. */
    CryptoSuite(long millisPerRound, Path hookBaseline) {
        this.millisPerRound = millisPerRound;
        this.hookBaseline = hookBaseline;
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
                rows.put(row, inProcessRow(results, row, op, millisPerRound));
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

        tlsHandshakes(results, rounds);
        hookCost(results, rounds);
    }

    /** The TLS 1.3 handshake rows, one child JVM per provider, rounds interleaved. */
    private void tlsHandshakes(Results results, int rounds) throws Exception {
        Path directory = Files.createTempDirectory("xpfo-bench-tls");
        Map<String, LineChild> children = new LinkedHashMap<>();
        try {
            Path key = directory.resolve("server.key.pem");
            Path certificate = directory.resolve("server.cert.pem");
            String made = selfSigned(key, certificate);
            if (made != null) {
                for (String provider : TLS_CONFIGURATIONS) {
                    results.skipped("crypto.tls13_handshake." + provider, made);
                }
                return;
            }
            for (String provider : TLS_CONFIGURATIONS) { // all started before any is waited for: the JVMs start in parallel
                children.put(provider, LineChild.start(provider, childJvm(TlsHandshakeChild.class, provider, key.toString(), certificate.toString())));
            }
            System.out.printf(Locale.ROOT, "crypto TLS 1.3 handshakes (a JVM per provider; %d ms warm-up, then about %d ms per round):",
                    15 * millisPerRound, 2 * millisPerRound);
            Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
            for (Map.Entry<String, LineChild> child : children.entrySet()) {
                String row = "crypto.tls13_handshake." + child.getKey();
                String problem = child.getValue().problem();
                if (problem != null) {
                    results.skipped(row, problem);
                    continue;
                }
                // The server key's class and who makes and agrees JSSE's key shares (X25519, P-256) in that JVM.
                System.out.printf(Locale.ROOT, "%n  %s: server key %s", child.getKey(), child.getValue().readyDetail());
                rows.put(row, handshakeRow(results, row, child.getValue(), millisPerRound));
            }
            Suite.interleave(rounds, rows);
        } finally {
            for (LineChild child : children.values()) {
                child.close();
            }
            try (var files = Files.list(directory)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(directory);
        }
        List<String> missed = new ArrayList<>();
        String base = "crypto.tls13_handshake.";
        for (String xpfo : List.of("xpfo", "xpfo_first")) {
            double jdk = results.ratio(base + xpfo + "/jdk (speed)", base + "jdk", base + xpfo);
            results.ratio(base + xpfo + "/accp (speed)", base + "accp", base + xpfo);
            results.ratio(base + xpfo + "/bc (speed)", base + "bc", base + xpfo);
            results.ratio(base + xpfo + "/jdk server_side (speed)", base + "jdk.server_side", base + xpfo + ".server_side");
            results.ratio(base + xpfo + "/accp server_side (speed)", base + "accp.server_side", base + xpfo + ".server_side");
            check(missed, "handshakes " + xpfo + "/jdk >= 1.5", jdk, 1.5);
        }
        for (String provider : TLS_CONFIGURATIONS) {
            publicKeyShare(results, base + provider);
        }
        results.verdict("crypto: TLS 1.3 handshakes (EC P-256 server key, client in the same thread) at least 1.5x the JDK, XPFO last"
                + " and XPFO first in the provider list: " + (missed.isEmpty() ? "met" : "MISSED " + String.join("; ", missed)));
    }

    /**
     * {@code <row>.public_key_share}: the share of a handshake's time its public-key operations take (each
     * part's median times how often a handshake does it, over the handshake's median), in percent.
     */
    private static void publicKeyShare(Results results, String row) {
        if (!results.has(row)) {
            return;
        }
        double sum = 0;
        for (int i = 0; i < HandshakeParts.NAMES.size(); i++) {
            sum += results.median(row + ".part." + HandshakeParts.NAMES.get(i)) * HandshakeParts.PER_HANDSHAKE.get(i);
        }
        results.add(row + ".public_key_share", "%", 100 * sum / results.median(row));
    }

    /** Makes an EC P-256 key and its self-signed certificate with {@code openssl req}; null, or why it could not. */
    private static String selfSigned(Path key, Path certificate) {
        List<String> command = List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key.toString(), "-out", certificate.toString(), "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!process.waitFor(Duration.ofSeconds(60).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS) || process.exitValue() != 0) {
                return "openssl req could not make the server's certificate: " + output.trim();
            }
            return null;
        } catch (Exception e) {
            return "openssl req could not make the server's certificate (the openssl command, Debian package openssl): " + e;
        }
    }

    /**
     * {@code java} running {@code main} of this class path, with the same flags for every provider: native
     * access for the XPFO provider, a fixed pre-touched heap so no child pays first-touch faults mid-round, and
     * no background compilation ({@code -Xbatch}): a method is compiled while its own child runs and waits, so
     * an idle child's JIT threads never take the CPU from the child being measured.
     */
    private static List<String> childJvm(Class<?> main, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny", "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "-Xbatch",
                "-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(Arrays.asList(args));
        return command;
    }

    /** The allocation hook's rows: the C program in both modes, rounds interleaved, then allocation counts. */
    private void hookCost(Results results, int rounds) throws Exception {
        String unavailable = hookBaseline == null ? "crypto_hook_baseline was not compiled (the bench script says why: libssl-dev's headers or libcrypto missing)"
                : !Files.isExecutable(hookBaseline) ? "crypto_hook_baseline not found at " + hookBaseline + " (the bench script compiles it; libssl-dev needed)"
                : null;
        Map<String, LineChild> children = new LinkedHashMap<>();
        try {
            if (unavailable == null) {
                for (String mode : HOOK_MODES) {
                    children.put(mode, LineChild.start("crypto_hook_baseline " + mode, List.of(hookBaseline.toString(), mode)));
                }
            }
            Map<String, Suite.RoundTask> rows = new LinkedHashMap<>();
            for (String operation : HOOK_OPERATIONS) {
                for (String mode : HOOK_MODES) {
                    String row = "crypto.hook." + operation + "." + mode;
                    String problem = unavailable != null ? unavailable : children.get(mode).problem();
                    if (problem != null) {
                        results.skipped(row, problem);
                    } else {
                        rows.put(row, hookRow(results, row, children.get(mode), operation, millisPerRound));
                    }
                }
            }
            if (!rows.isEmpty()) {
                System.out.printf(Locale.ROOT, "crypto allocation hook (C, a process per mode, about %d ms per row per round):", millisPerRound);
                Suite.interleave(rounds, rows);
            }
        } finally {
            for (LineChild child : children.values()) {
                child.close();
            }
        }
        for (String operation : HOOK_OPERATIONS) {
            String base = "crypto.hook." + operation + ".";
            results.ratio(base + "xpfo_heap/plain (time)", base + "xpfo_heap", base + "plain");
        }
        if (unavailable == null) {
            countAllocations(results);
        }
    }

    /** Allocations per operation ({@code crypto.hook.<operation>.<mode>.allocations}), from the counting mode. */
    private void countAllocations(Results results) throws Exception {
        for (String mode : HOOK_MODES) {
            try (LineChild counting = LineChild.start("crypto_hook_baseline " + mode + " count", List.of(hookBaseline.toString(), mode, "count"))) {
                for (String operation : HOOK_OPERATIONS) {
                    String row = "crypto.hook." + operation + "." + mode + ".allocations";
                    if (counting.problem() != null) {
                        results.skipped(row, counting.problem());
                        continue;
                    }
                    String[] answer = counting.ask("run " + operation + " " + COUNTED_OPS).split("\\s+");
                    results.add(row, "allocs/op", (Long.parseLong(answer[1]) + Long.parseLong(answer[2])) / (double) COUNTED_OPS);
                }
            }
        }
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
     * XPFO: its EVP_DigestVerify path; delayed selection would give a public key to the JDK). Before it is
     * measured the verifier must reject the signature with one bit flipped and accept the real one: a verifier
     * that accepts everything is not measured.
     */
    static Op verify(String algorithm, KeyPair pair, Provider provider, String jdkProvider) throws Exception {
        Signature signer = provider == null ? Signature.getInstance(algorithm, jdkProvider) : Signature.getInstance(algorithm, provider);
        signer.initSign(pair.getPrivate());
        signer.update(ONE_KIB, 0, 32);
        byte[] signed = signer.sign();
        Signature verifier = provider == null ? Signature.getInstance(algorithm, jdkProvider) : Signature.getInstance(algorithm, provider);
        byte[] tampered = signed.clone();
        tampered[tampered.length / 2] ^= 0x01;
        if (verifies(verifier, pair, tampered)) {
            throw new IllegalStateException(algorithm + " verifier of " + verifier.getProvider().getName() + " accepts a tampered signature");
        }
        if (!verifies(verifier, pair, signed)) {
            throw new IllegalStateException(algorithm + " verifier of " + verifier.getProvider().getName() + " rejects the real signature");
        }
        return () -> {
            verifier.initVerify(pair.getPublic());
            verifier.update(ONE_KIB, 0, 32);
            if (!verifier.verify(signed)) {
                throw new IllegalStateException(algorithm + " signature does not verify");
            }
        };
    }

    /** {@code signature} over the signed bytes; a signature the provider cannot even decode counts as rejected. */
    private static boolean verifies(Signature verifier, KeyPair pair, byte[] signature) throws Exception {
        verifier.initVerify(pair.getPublic());
        verifier.update(ONE_KIB, 0, 32);
        try {
            return verifier.verify(signature);
        } catch (java.security.SignatureException e) {
            return false;
        }
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

    /**
     * A row whose warm-up (the first, unmeasured round) sets how many operations each measured round does, so
     * every row of a suite takes about the same time per round however fast its operation is.
     */
    private static final class CountedRow implements Suite.RoundTask {
        /** Warms up; returns how many operations a measured round does. */
        interface Calibration {
            long count() throws Exception;
        }

        /** One measured round of {@code count} operations: adds its samples to the results. */
        interface Measurement {
            void round(long count) throws Exception;
        }

        private final Calibration calibration;
        private final Measurement measurement;
        private long count = -1;

        CountedRow(Calibration calibration, Measurement measurement) {
            this.calibration = calibration;
            this.measurement = measurement;
        }

        @Override
        public void run(boolean measured) throws Exception {
            if (count < 0) {
                count = Math.max(1, calibration.count());
            }
            if (measured) {
                measurement.round(count);
            }
        }
    }

    /** A provider's handshake rows: the warm-up sets how many handshakes a round does (about twice the round's time). */
    private static CountedRow handshakeRow(Results results, String row, LineChild child, long millis) {
        return new CountedRow(() -> Long.parseLong(child.ask("warm " + 10 * millis)) / 5, handshakes -> {
            String[] nanos = child.ask("run " + handshakes).split("\\s+");
            results.add(row, "ns/handshake", Long.parseLong(nanos[0]) / (double) handshakes);
            results.add(row + ".server_side", "ns/handshake", Long.parseLong(nanos[1]) / (double) handshakes);
            // The handshake's public-key operations alone, as often as there were handshakes (20 at least).
            String[] parts = child.ask("parts " + Math.max(20, handshakes)).split("\\s+");
            for (int i = 0; i < parts.length; i++) {
                results.add(row + ".part." + HandshakeParts.NAMES.get(i), "ns/op", Long.parseLong(parts[i]));
            }
        });
    }

    /** One operation in one mode of the C program: calibrated in the warm-up, then timed. */
    private static CountedRow hookRow(Results results, String row, LineChild child, String operation, long millis) {
        return new CountedRow(() -> Long.parseLong(child.ask("calibrate " + operation + " " + millis)), ops -> {
            String[] answer = child.ask("run " + operation + " " + ops).split("\\s+");
            results.add(row, "ns/op", Long.parseLong(answer[0]) / (double) ops);
        });
    }

    /**
     * An in-process row. Its warm-up is {@link #warmUntilSteady}. Every measured round starts with an untimed
     * {@link #resettle}: the rows measured in between run other classes through the same call sites (one
     * lambda per kind of operation for all providers; {@code Cipher.doFinal} calls every provider's
     * {@code CipherSpi}), and code the JIT had specialised for this row and threw away then is compiled again
     * before the clock starts. See docs/crypto-bench.md, "Noise".
     */
    private static CountedRow inProcessRow(Results results, String row, Op op, long millis) {
        return new CountedRow(() -> warmUntilSteady(row, op, millis), ops -> {
            resettle(op, millis);
            long start = System.nanoTime();
            for (long i = 0; i < ops; i++) {
                op.run();
            }
            results.add(row, "ns/op", (System.nanoTime() - start) / (double) ops);
        });
    }

    /**
     * Runs {@code op} in batches of a quarter of the round's time until the JIT is done with it: a batch during
     * which nothing was compiled, whose time per operation is within a tenth of the batch before's, after at
     * least the round's time (at most twenty rounds' time: then it says so and goes on). Returns how many
     * operations take a round's time at the last batch's speed.
     */
    private static long warmUntilSteady(String row, Op op, long millis) throws Exception {
        long round = millis * 1_000_000L;
        long warmed = 0;
        double previous = Double.NaN;
        while (true) {
            Batch batch = Batch.run(op, round / 4);
            warmed += batch.nanos();
            boolean steady = !batch.compiled() && Math.abs(batch.perOp() - previous) <= previous / 10;
            if ((steady && warmed >= round) || warmed >= 20 * round) {
                if (!steady) {
                    System.out.printf(Locale.ROOT, "%n  %s: not steady after %d ms of warm-up (%.0f ns/op, %.0f before)",
                            row, warmed / 1_000_000, batch.perOp(), previous);
                }
                return (long) (round / batch.perOp());
            }
            previous = batch.perOp();
        }
    }

    /** Runs {@code op} untimed in batches of an eighth of the round's time until one passes with nothing compiled (two rounds' time at most). */
    private static void resettle(Op op, long millis) throws Exception {
        long round = millis * 1_000_000L;
        for (long spent = 0; spent < 2 * round; ) {
            Batch batch = Batch.run(op, round / 8);
            if (!batch.compiled()) {
                return;
            }
            spent += batch.nanos();
        }
    }

    /** Operations run for about a time: how long they took, how many, whether the JIT compiled meanwhile. */
    private record Batch(long nanos, long ops, boolean compiled) {
        static Batch run(Op op, long nanos) throws Exception {
            long compiling = compilationMillis();
            long start = System.nanoTime();
            long done = 0;
            while (System.nanoTime() - start < Math.max(1, nanos)) {
                op.run();
                done++;
            }
            return new Batch(System.nanoTime() - start, done, compilationMillis() != compiling);
        }

        double perOp() {
            return nanos / (double) ops;
        }
    }

    /** The JIT's total compilation time so far, or 0 where the JVM does not count it (then only steadiness counts). */
    private static long compilationMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }
}
