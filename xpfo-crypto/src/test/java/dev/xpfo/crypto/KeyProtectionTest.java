// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.keys.PrivateKeyFiles;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.symmetric.XpfoSecretKey;
import dev.xpfo.crypto.testing.HeapDump;
import dev.xpfo.crypto.testing.KeyMaterial;
import dev.xpfo.crypto.testing.SelfSignedFiles;
import dev.xpfo.host.SecretMemoryFiles;
import dev.xpfo.isolation.MemorySearch;
import dev.xpfo.memory.SecretFileContents;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The attack on the provider's promise. A process generates EC P-256, Ed25519, RSA-2048 and AES keys,
 * imports an EC P-256, an Ed25519 and an RSA-2048 key from PEM files and an AES-256 key from a
 * {@link Secret}, and makes a thousand signatures with each imported key and a thousand encryptions.
 * Another process (this one, as root) then reads every readable mapping of it through
 * {@code /proc/PID/mem} with the core's {@link MemorySearch} (what {@code xpfo check} runs), and a
 * {@code jcmd} heap dump of it, looking for the imported keys' secrets: the EC scalar, the Ed25519
 * seed, RSA's p, q and d (big-endian as in the file and byte-reversed as OpenSSL's BIGNUM limbs hold
 * them on x86-64, see {@link KeyMaterial}) and the AES key.
 *
 * <p>With XPFO none is found, while the public key (a control the process holds in a {@code byte[]})
 * is; and the addresses of libcrypto's allocations for the keys (their {@code EVP_PKEY}s) and of the
 * {@code Secret} the AES key came from lie in secret-memory mappings that {@code /proc/PID/mem}
 * refuses with {@code EIO}. With the JDK's own providers the same search finds every secret, so it can
 * find them. (A generated key's secret is unknown to the test: generation is exercised, not searched.)
 */
class KeyProtectionTest {
    private static final int OPERATIONS = 1000;
    private static final Duration STEP = Duration.ofSeconds(120);
    private static final List<String> IMPORTED = List.of("ec", "ed25519", "rsa");

    @TempDir
    Path dir;

    @Test
    void xpfoKeysAreNeitherInReadableMemoryNorInAHeapDumpAndLibcryptosAllocationsRefuseToBeRead() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: reading another process's memory through /proc/PID/mem needs root");
        SecretMemory.assumeAvailable();
        KnownKeys keys = KnownKeys.create(dir);

        Scan scan = scanChild("xpfo", keys);

        assertThat(scan.memory.found("control")).as(scan.report()).isTrue();
        assertThat(scan.dump.found("control")).as(scan.report()).isTrue();
        for (String secret : keys.secrets.keySet()) {
            assertThat(scan.memory.found(secret)).as("%s in memory: %s", secret, scan.report()).isFalse();
            assertThat(scan.dump.found(secret)).as("%s in the heap dump: %s", secret, scan.report()).isFalse();
        }
        // libcrypto's allocations for the imported keys, and the Secret the AES key was imported from
        assertThat(scan.addresses.keySet()).containsExactlyInAnyOrder("ec", "ed25519", "rsa", "secret");
        scan.addresses.forEach((name, address) -> assertThat(scan.memory.refusalCovering(address))
                .as("%s at %x: %s", name, address, scan.report())
                .hasValueSatisfying(refusal -> {
                    assertThat(refusal.errnoName()).isEqualTo("EIO");
                    assertThat(refusal.mapping().path()).isEqualTo(SecretMemoryFiles.NAME);
                }));
        System.out.println("KeyProtectionTest xpfo: " + scan.report());
    }

    /** The same keys used through SunEC, SunRsaSign and SunJCE: the same search finds each, so it can find keys. */
    @Test
    void theJdksOwnKeysAreFoundTheSameWay() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: reading another process's memory through /proc/PID/mem needs root");
        KnownKeys keys = KnownKeys.create(dir);

        Scan scan = scanChild("jdk", keys);

        assertThat(scan.memory.found("control")).as(scan.report()).isTrue();
        assertThat(scan.dump.found("control")).as(scan.report()).isTrue();
        for (String secret : List.of("ec.scalar", "ed25519.seed", "rsa.p", "rsa.q", "rsa.d", "aes")) {
            assertThat(scan.memory.found(secret) || scan.memory.found(secret + "-le")).as("%s in memory: %s", secret, scan.report())
                    .isTrue();
            assertThat(scan.dump.found(secret) || scan.dump.found(secret + "-le")).as("%s in the heap dump: %s", secret, scan.report())
                    .isTrue();
        }
        System.out.println("KeyProtectionTest jdk: " + scan.report());
    }

    private record Scan(MemorySearch.Result memory, MemorySearch.Result dump, Map<String, Long> addresses) {
        String report() {
            return "memory: " + memory + "; heap dump: " + dump;
        }
    }

    /**
     * Starts the child with {@code provider}'s keys and, once it is READY, searches its memory, then its
     * heap dump: one process for every check.
     */
    private Scan scanChild(String provider, KnownKeys keys) throws Exception {
        List<String> args = new ArrayList<>(List.of(provider, keys.aesFile.toString()));
        IMPORTED.forEach(type -> args.add(keys.pems.get(type).toString()));
        Process process = TestJvm.start(KeyHolder.class, args.toArray(String[]::new));
        Child.Watch child = Child.watch(process);
        try {
            Map<String, Long> addresses = new LinkedHashMap<>();
            for (String line = child.nextLine(STEP); !"READY".equals(line); line = child.nextLine(STEP)) {
                assertThat(line).as(child.printed()).isNotNull().startsWith("ADDRESS ");
                String[] fields = line.split(" ");
                addresses.put(fields[1], Long.parseUnsignedLong(fields[2], 16));
            }
            Map<String, byte[]> needles = new LinkedHashMap<>(keys.secrets);
            needles.put("control", keys.control);
            MemorySearch.Result memory = MemorySearch.process(process.pid(), needles);
            Path dump = HeapDump.take(process.pid(), dir.resolve("child.hprof"), STEP);
            process.getOutputStream().close();
            Child.Result result = child.finish(STEP);
            assertThat(result.exitCode()).as(result.output()).isZero();
            return new Scan(memory, MemorySearch.file(dump, needles), addresses);
        } finally {
            Child.killTree(process);
        }
    }

    /** Keys made by openssl (their secrets read back by the JDK), a random AES-256 key, and the EC public key (the control). */
    private record KnownKeys(Map<String, Path> pems, Path aesFile, Map<String, byte[]> secrets, byte[] control) {
        static KnownKeys create(Path dir) throws Exception {
            Map<String, Path> pems = new LinkedHashMap<>();
            Map<String, byte[]> secrets = new LinkedHashMap<>();
            for (String type : IMPORTED) {
                Path pem = SelfSignedFiles.make(dir, type, type).key();
                pems.put(type, pem);
                secrets.putAll(KeyMaterial.secrets(type, pem));
            }
            byte[] aes = new byte[32];
            new SecureRandom().nextBytes(aes);
            secrets.put("aes", aes);
            Path aesFile = Files.write(dir.resolve("aes.key"), aes);
            Child.Result publicDer = Child.run(List.of("openssl", "pkey", "-in", pems.get("ec").toString(), "-pubout", "-outform", "DER"), STEP);
            assertThat(publicDer.exitCode()).as(publicDer.output()).isZero();
            return new KnownKeys(pems, aesFile, secrets, publicDer.stdout());
        }
    }

    /**
     * The process under attack. {@code args}: provider ({@code xpfo} or {@code jdk}), the AES key file,
     * then the EC, Ed25519 and RSA PEM key files. Holds the EC public key's X.509 encoding in a
     * {@code byte[]} (the control), generates keys (XPFO), signs a thousand times with each imported key
     * and encrypts a thousand times, prints {@code ADDRESS NAME HEX} for each allocation the test expects
     * to be unreadable (XPFO), then READY, and keeps its keys until the end of stdin.
     */
    public static final class KeyHolder {
        static byte[] control;
        static final Map<String, PrivateKey> PRIVATE_KEYS = new LinkedHashMap<>();
        static final List<Object> GENERATED = new ArrayList<>();
        static SecretKey aesKey;
        static SecretStore store;
        static Secret aesSecret;

        public static void main(String[] args) throws Exception {
            boolean xpfo = args[0].equals("xpfo");
            Provider provider = xpfo ? xpfoProvider() : null;
            Path aesFile = Path.of(args[1]);
            for (int i = 0; i < IMPORTED.size(); i++) {
                Path pem = Path.of(args[2 + i]);
                PRIVATE_KEYS.put(IMPORTED.get(i), xpfo ? PrivateKeyFiles.read(pem) : jdkKey(IMPORTED.get(i), pem));
            }
            control = xpfo ? ((XpfoPrivateKey) PRIVATE_KEYS.get("ec")).publicKey().getEncoded() : jdkEcPublicKey(Path.of(args[2]));
            if (xpfo) {
                generate(provider);
                // straight from the file into secret memory, then into libcrypto's heap: never a byte[]; the
                // Secret stays open, so its own copy of the key is searched for too
                store = SecretStore.open();
                try (SecretFileContents file = SecretFileContents.read(aesFile, 64)) {
                    aesSecret = store.allocate(32);
                    aesSecret.write(0, file.contents());
                    aesKey = XpfoSecretKey.fromSecret(aesSecret, "AES");
                }
            } else {
                aesKey = new SecretKeySpec(Files.readAllBytes(aesFile), "AES");
            }
            byte[] message = new byte[1024];
            SecureRandom random = new SecureRandom();
            for (Map.Entry<String, PrivateKey> key : PRIVATE_KEYS.entrySet()) {
                String algorithm = switch (key.getKey()) {
                    case "ec" -> "SHA256withECDSA";
                    case "ed25519" -> "Ed25519";
                    default -> "SHA256withRSA";
                };
                Signature signature = provider == null ? Signature.getInstance(algorithm) : Signature.getInstance(algorithm, provider);
                for (int i = 0; i < OPERATIONS; i++) {
                    random.nextBytes(message);
                    signature.initSign(key.getValue());
                    signature.update(message);
                    signature.sign();
                }
            }
            Cipher cipher = provider == null ? Cipher.getInstance("AES/GCM/NoPadding", "SunJCE")
                    : Cipher.getInstance("AES/GCM/NoPadding", provider);
            byte[] iv = new byte[12];
            for (int i = 0; i < OPERATIONS; i++) {
                random.nextBytes(iv);
                cipher.init(Cipher.ENCRYPT_MODE, aesKey, new GCMParameterSpec(128, iv));
                cipher.doFinal(message);
            }
            if (xpfo) {
                for (Map.Entry<String, PrivateKey> key : PRIVATE_KEYS.entrySet()) {
                    // the EVP_PKEY, allocated by libcrypto (through xpfo's hook) when the key was parsed
                    MemorySegment pkey = ((NativeKey) key.getValue()).newReference();
                    System.out.println("ADDRESS " + key.getKey() + " " + Long.toHexString(pkey.address()));
                    LibCrypto.evpPkeyFree(pkey);
                }
                System.out.println("ADDRESS secret " + Long.toHexString(aesSecret.readOnly(MemorySegment::address)));
            }
            System.out.println("READY");
            BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
            while (stdin.readLine() != null) {
                // wait for the end of stdin, keeping the keys alive meanwhile
            }
            System.out.println(PRIVATE_KEYS.size() + " " + GENERATED.size() + " " + aesKey.getAlgorithm() + " " + control.length);
        }

        private static Provider xpfoProvider() {
            CryptoHeap.ensureInstalled();
            return new XpfoProvider();
        }

        /** Keys generated inside libcrypto, used once each and kept: their material is unknown to the test. */
        private static void generate(Provider provider) throws Exception {
            KeyPairGenerator ec = KeyPairGenerator.getInstance("EC", provider);
            ec.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA", provider);
            rsa.initialize(2048);
            byte[] message = "generated".getBytes(StandardCharsets.US_ASCII);
            for (Map.Entry<String, PrivateKey> generated : Map.of("SHA256withECDSA", ec.generateKeyPair().getPrivate(),
                    "Ed25519", KeyPairGenerator.getInstance("Ed25519", provider).generateKeyPair().getPrivate(),
                    "SHA256withRSA", rsa.generateKeyPair().getPrivate()).entrySet()) {
                Signature signature = Signature.getInstance(generated.getKey(), provider);
                signature.initSign(generated.getValue());
                signature.update(message);
                signature.sign();
                GENERATED.add(generated.getValue());
            }
            KeyGenerator aes = KeyGenerator.getInstance("AES", provider);
            aes.init(256);
            SecretKey key = aes.generateKey();
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding", provider);
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, new byte[12]));
            cipher.doFinal(message);
            GENERATED.add(key);
        }

        private static PrivateKey jdkKey(String type, Path pem) throws Exception {
            return KeyFactory.getInstance(switch (type) {
                case "ec" -> "EC";
                case "ed25519" -> "Ed25519";
                default -> "RSA";
            }).generatePrivate(new PKCS8EncodedKeySpec(der(pem)));
        }

        private static byte[] der(Path pem) throws Exception {
            return Base64.getMimeDecoder().decode(Files.readString(pem).replaceAll("-----[A-Z ]+-----", ""));
        }

        /** The JDK's public key for the EC key pair, as the XPFO child gets it from libcrypto. */
        private static byte[] jdkEcPublicKey(Path pem) throws Exception {
            // openssl writes the public point (04 || X || Y) last in the PKCS#8; SunEC's KeyFactory does not
            // derive it, so build the P-256 SubjectPublicKeyInfo around it
            byte[] der = der(pem);
            byte[] point = Arrays.copyOfRange(der, der.length - 65, der.length);
            byte[] prefix = HexFormat.of().parseHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
            byte[] spki = Arrays.copyOf(prefix, prefix.length + point.length);
            System.arraycopy(point, 0, spki, prefix.length, point.length);
            return spki;
        }
    }
}
