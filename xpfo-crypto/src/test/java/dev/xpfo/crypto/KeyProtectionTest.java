// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.keys.PrivateKeyFiles;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.symmetric.XpfoSecretKey;
import dev.xpfo.crypto.testing.SelfSignedFiles;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.memory.SecretFileContents;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Signature;
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
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The attack on the provider's promise: a process holding an imported EC P-256 key and an AES-256 key,
 * after a thousand signatures and a thousand encryptions with them, is searched by another process
 * (root, through {@code /proc/PID/mem}, every readable mapping) and through a heap dump for the private
 * scalar (big-endian as in the file, and byte-reversed as OpenSSL's little-endian BIGNUM limbs hold it
 * on x86-64) and the AES key. With XPFO they are not found while the public key (a control) is, and the
 * secret-memory mappings refuse to be read; with the JDK's own providers the same search finds them.
 */
class KeyProtectionTest {
    private static final int OPERATIONS = 1000;
    private static final Duration STEP = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void xpfoKeysAreNeitherInReadableMemoryNorInAHeapDump() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: reading another process's memory through /proc/PID/mem needs root");
        SecretMemory.assumeAvailable();
        KnownKeys keys = KnownKeys.create(dir);

        Scan scan = scanChild("xpfo", keys);

        assertThat(scan.memory.found(keys.control)).as(scan.report()).isTrue();
        assertThat(scan.memory.found(keys.scalar)).as(scan.report()).isFalse();
        assertThat(scan.memory.found(keys.reversedScalar)).as(scan.report()).isFalse();
        assertThat(scan.memory.found(keys.aes)).as(scan.report()).isFalse();
        // libcrypto's heap (and the secrets' pages) are secret memory, which /proc/PID/mem refuses
        assertThat(scan.memory.refused).as(scan.report()).anyMatch(mapping -> mapping.contains("secretmem"));
        assertThat(scan.dump.found(keys.control)).as(scan.report()).isTrue();
        assertThat(scan.dump.found(keys.scalar)).as(scan.report()).isFalse();
        assertThat(scan.dump.found(keys.reversedScalar)).as(scan.report()).isFalse();
        assertThat(scan.dump.found(keys.aes)).as(scan.report()).isFalse();
        System.out.println("KeyProtectionTest xpfo: " + scan.report());
    }

    /** The same keys used through SunEC and SunJCE: the same search finds them, so it can find keys. */
    @Test
    void theJdksOwnKeysAreFoundTheSameWay() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: reading another process's memory through /proc/PID/mem needs root");
        KnownKeys keys = KnownKeys.create(dir);

        Scan scan = scanChild("jdk", keys);

        assertThat(scan.memory.found(keys.control)).as(scan.report()).isTrue();
        assertThat(scan.memory.found(keys.scalar) || scan.memory.found(keys.reversedScalar)).as(scan.report()).isTrue();
        assertThat(scan.memory.found(keys.aes)).as(scan.report()).isTrue();
        assertThat(scan.dump.found(keys.control)).as(scan.report()).isTrue();
        assertThat(scan.dump.found(keys.scalar) || scan.dump.found(keys.reversedScalar)).as(scan.report()).isTrue();
        assertThat(scan.dump.found(keys.aes)).as(scan.report()).isTrue();
        System.out.println("KeyProtectionTest jdk: " + scan.report());
    }

    private record Scan(Search memory, Search dump) {
        String report() {
            return "memory: " + memory + "; heap dump: " + dump;
        }
    }

    /** Starts the child with {@code provider}'s keys, scans its memory once it is READY, then its heap dump. */
    private Scan scanChild(String provider, KnownKeys keys) throws Exception {
        Path dumpFile = dir.resolve("child.hprof");
        Process process = TestJvm.start(KeyHolder.class, provider, keys.pem.toString(), keys.aesFile.toString());
        Child.Watch child = Child.watch(process);
        try {
            assertThat(child.nextLine(STEP)).as(child.printed()).isEqualTo("READY");
            Search memory = Search.of(keys);
            memory.scanProcess(process.pid());
            // the heap dump an operator (or an attacker with the same rights) takes from outside, unreachable objects too
            Child.Result jcmd = Child.run(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(process.pid()), "GC.heap_dump", "-all", dumpFile.toString()), STEP);
            assertThat(jcmd.exitCode()).as(jcmd.output()).isZero();
            assertThat(dumpFile).as(jcmd.output()).exists();
            process.getOutputStream().close();
            Child.Result result = child.finish(STEP);
            assertThat(result.exitCode()).as(result.output()).isZero();
            Search dump = Search.of(keys);
            dump.scanFile(dumpFile);
            return new Scan(memory, dump);
        } finally {
            Child.killTree(process);
        }
    }

    /** A P-256 key made by openssl (its scalar read back by the JDK, its public key by openssl) and a random AES-256 key. */
    private record KnownKeys(Path pem, Path aesFile, byte[] scalar, byte[] reversedScalar, byte[] aes, byte[] control) {
        static KnownKeys create(Path dir) throws Exception {
            SelfSignedFiles files = SelfSignedFiles.make(dir, "known", SelfSignedFiles.Type.EC_P256);
            Path pem = files.key();
            byte[] scalar = files.ecScalar();
            byte[] reversed = SelfSignedFiles.reversed(scalar);
            byte[] publicDer = openssl("pkey", "-in", pem.toString(), "-pubout", "-outform", "DER");
            byte[] aes = new byte[32];
            new SecureRandom().nextBytes(aes);
            Path aesFile = dir.resolve("aes.key");
            Files.write(aesFile, aes);
            return new KnownKeys(pem, aesFile, scalar, reversed, aes, publicDer);
        }

        private static byte[] openssl(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of("openssl"));
            command.addAll(List.of(args));
            Child.Result result = Child.run(new ProcessBuilder(command), STEP);
            assertThat(result.exitCode()).as(result.output()).isZero();
            return result.stdout();
        }
    }

    /** Looks for the key patterns in a process's readable mappings or in a file, counting what it read and what refused. */
    private static final class Search {
        private static final int CHUNK = 1 << 20;
        private final Map<String, byte[]> patterns = new LinkedHashMap<>();
        private final Map<String, List<String>> hits = new LinkedHashMap<>();
        final List<String> refused = new ArrayList<>();
        private long bytesScanned;
        private int mappingsRead;

        static Search of(KnownKeys keys) {
            Search search = new Search();
            search.patterns.put("scalar", keys.scalar);
            search.patterns.put("reversed-scalar", keys.reversedScalar);
            search.patterns.put("aes", keys.aes);
            search.patterns.put("control", keys.control);
            search.patterns.keySet().forEach(name -> search.hits.put(name, new ArrayList<>()));
            return search;
        }

        boolean found(byte[] pattern) {
            for (Map.Entry<String, byte[]> entry : patterns.entrySet()) {
                if (entry.getValue() == pattern) {
                    return !hits.get(entry.getKey()).isEmpty();
                }
            }
            throw new IllegalArgumentException("not a searched pattern");
        }

        /** Every readable mapping in /proc/PID/maps, read through /proc/PID/mem; a mapping that refuses is counted. */
        void scanProcess(long pid) throws IOException {
            List<MapsEntry> maps = new ProcessDirectory(pid).maps(); // xpfo's one maps parser
            try (FileChannel mem = new RandomAccessFile("/proc/" + pid + "/mem", "r").getChannel()) {
                for (MapsEntry mapping : maps) {
                    if (mapping.permissions().charAt(0) != 'r') {
                        continue;
                    }
                    String line = mapping.toString();
                    long start = mapping.start();
                    long end = mapping.end();
                    if (start < 0) { // [vsyscall], above what a file offset can address
                        refused.add(line + " (not addressable)");
                        continue;
                    }
                    try {
                        scan(line, (buffer, position) -> mem.read(buffer, position), start, end);
                        mappingsRead++;
                    } catch (IOException e) {
                        refused.add(line + " (" + e.getMessage() + ")");
                    }
                }
            }
        }

        void scanFile(Path file) throws IOException {
            try (FileChannel channel = FileChannel.open(file)) {
                scan(file.toString(), (buffer, position) -> channel.read(buffer, position), 0, channel.size());
            }
        }

        private interface Reader {
            int read(ByteBuffer buffer, long position) throws IOException;
        }

        /** Reads [start, end) in chunks overlapping by the longest pattern's length less one, looking for each pattern. */
        private void scan(String where, Reader reader, long start, long end) throws IOException {
            int overlap = patterns.values().stream().mapToInt(p -> p.length).max().orElse(1) - 1;
            byte[] window = new byte[overlap + CHUNK];
            int carried = 0;
            long position = start;
            while (position < end) {
                int want = (int) Math.min(CHUNK, end - position);
                ByteBuffer buffer = ByteBuffer.wrap(window, carried, want);
                int got = reader.read(buffer, position);
                if (got <= 0) {
                    if (position == start) {
                        throw new IOException("nothing read at " + Long.toHexString(position));
                    }
                    break;
                }
                int length = carried + got;
                for (Map.Entry<String, byte[]> entry : patterns.entrySet()) {
                    long at = indexOf(window, length, entry.getValue());
                    if (at >= 0) {
                        hits.get(entry.getKey()).add(where + " +" + Long.toHexString(position - carried + at - start));
                    }
                }
                bytesScanned += got;
                position += got;
                carried = Math.min(overlap, length);
                System.arraycopy(window, length - carried, window, 0, carried);
            }
        }

        private static int indexOf(byte[] data, int length, byte[] pattern) {
            byte first = pattern[0];
            for (int i = 0; i <= length - pattern.length; i++) {
                if (data[i] == first && Arrays.equals(data, i, i + pattern.length, pattern, 0, pattern.length)) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder().append(bytesScanned).append(" bytes scanned");
            if (mappingsRead > 0 || !refused.isEmpty()) {
                text.append(" in ").append(mappingsRead).append(" mappings, ").append(refused.size()).append(" refused ")
                        .append(refused);
            }
            hits.forEach((name, where) -> text.append(", ").append(name).append(where.isEmpty() ? " not found" : " found at " + where));
            return text.toString();
        }
    }

    /**
     * The process under attack. {@code args}: provider ({@code xpfo} or {@code jdk}), the PEM key file, the
     * AES key file. Holds the public key's X.509 encoding in a {@code byte[]} (the control), signs and
     * encrypts a thousand times, prints READY, and keeps its keys until the end of stdin.
     */
    public static final class KeyHolder {
        static byte[] control;
        static PrivateKey privateKey;
        static SecretKey aesKey;

        public static void main(String[] args) throws Exception {
            boolean xpfo = args[0].equals("xpfo");
            Provider provider;
            if (xpfo) {
                CryptoHeap.ensureInstalled();
                provider = new XpfoProvider();
                XpfoPrivateKey key = PrivateKeyFiles.read(Path.of(args[1]));
                privateKey = key;
                control = key.publicKey().getEncoded();
                // straight from the file into secret memory, then into libcrypto's heap: never a byte[]
                try (SecretStore store = SecretStore.open(); SecretFileContents file = SecretFileContents.read(Path.of(args[2]), 64);
                     Secret secret = store.allocate(32)) {
                    secret.write(0, file.contents());
                    aesKey = XpfoSecretKey.fromSecret(secret, "AES");
                }
            } else {
                provider = null;
                String pem = Files.readString(Path.of(args[1]));
                byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
                privateKey = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
                control = publicOf(der);
                aesKey = new SecretKeySpec(Files.readAllBytes(Path.of(args[2])), "AES");
            }
            Signature signature = provider == null ? Signature.getInstance("SHA256withECDSA", "SunEC")
                    : Signature.getInstance("SHA256withECDSA", provider);
            byte[] message = new byte[1024];
            SecureRandom random = new SecureRandom();
            for (int i = 0; i < OPERATIONS; i++) {
                random.nextBytes(message);
                signature.initSign(privateKey);
                signature.update(message);
                signature.sign();
            }
            Cipher cipher = provider == null ? Cipher.getInstance("AES/GCM/NoPadding", "SunJCE")
                    : Cipher.getInstance("AES/GCM/NoPadding", provider);
            byte[] iv = new byte[12];
            for (int i = 0; i < OPERATIONS; i++) {
                random.nextBytes(iv);
                cipher.init(Cipher.ENCRYPT_MODE, aesKey, new GCMParameterSpec(128, iv));
                cipher.doFinal(message);
            }
            System.out.println("READY");
            BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
            while (stdin.readLine() != null) {
                // wait for the end of stdin, keeping the keys alive meanwhile
            }
            System.out.println(privateKey.getAlgorithm() + " " + aesKey.getAlgorithm() + " " + control.length);
        }

        /** The JDK's public key for the same key pair, from SunEC, as the XPFO child gets it from libcrypto. */
        private static byte[] publicOf(byte[] der) throws Exception {
            // openssl writes the public point (04 || X || Y) last in the PKCS#8; SunEC's KeyFactory does not
            // derive it, so build the P-256 SubjectPublicKeyInfo around it
            byte[] point = Arrays.copyOfRange(der, der.length - 65, der.length);
            byte[] prefix = HexFormat.of().parseHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
            byte[] spki = Arrays.copyOf(prefix, prefix.length + point.length);
            System.arraycopy(point, 0, spki, prefix.length, point.length);
            return spki;
        }
    }
}
