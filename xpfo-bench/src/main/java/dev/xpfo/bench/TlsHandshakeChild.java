// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import dev.xpfo.crypto.XpfoKeyStoreParameter;
import dev.xpfo.crypto.XpfoProvider;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

import javax.crypto.KeyAgreement;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Security;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * One provider's TLS 1.3 server and client in a JVM of its own ({@code crypto.tls13_handshake.<provider>}):
 * JSSE takes its algorithms from the process-wide provider list, so each configuration needs its own
 * process. Both ends are {@link SSLEngine}s exchanging records through byte buffers in memory (no sockets,
 * no threads), every handshake a full one (new engines without a peer host, so the client looks up no
 * session to resume, and both sessions invalidated afterwards; the server's key manager counts that it
 * chose its certificate once per handshake, which a resumed handshake does not do). The server's EC P-256
 * key and its self-signed certificate come from PEM files; the client trusts exactly that certificate.
 *
 * <ul>
 *   <li>{@code xpfo}: {@code Security.addProvider(new XpfoProvider())} (last, as the README says), the key
 *       loaded by the XPFO key store into secret memory: XPFO signs the CertificateVerify (delayed provider
 *       selection sends its key to it), the JDK's providers do everything else.</li>
 *   <li>{@code xpfo_first}: {@code Security.insertProviderAt(new XpfoProvider(), 1)}, the same key: XPFO also
 *       makes JSSE's ephemeral key shares (X25519, P-256) and computes their agreements; the child refuses to
 *       run if a JSSE-like request under this provider list gets another provider's (see {@link #keyShares}).
 *       Verifying stays with the JDK: delayed selection sends the certificate's public key, a standard
 *       object, to SunEC.</li>
 *   <li>{@code jdk}: the JDK's providers, the key a SunEC key.</li>
 *   <li>{@code accp}: {@code AmazonCorrettoCryptoProvider.install()} (first in the list), the key ACCP's.</li>
 *   <li>{@code bc}: BouncyCastle inserted first, the key BC's; JSSE is still the JDK's SunJSSE.</li>
 * </ul>
 * The server's key manager is the bench's own ({@code CountingKeys}), the same for all.
 * Protocol ({@link LineChild}): {@code ready <server key class> key shares <X25519> <P-256>} (providers, see
 * {@link #keyShares}), then {@code warm MILLIS} (runs
 * handshakes for that long, answers how many), {@code run COUNT} (answers the nanoseconds COUNT took, and
 * those the server engine's steps took: its delegated tasks, where JSSE does the server's cryptography, and its
 * wraps and unwraps; the rest is the client's), {@code parts COUNT} (answers {@link HandshakeParts#time}).
 */
public final class TlsHandshakeChild {
    private static final String[] TLS13 = {"TLSv1.3"};
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final Ends ends;
    private final ByteBuffer toServer = ByteBuffer.allocate(1 << 17);
    private final ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
    private final ByteBuffer application = ByteBuffer.allocate(1 << 17);
    /** Nanoseconds spent in the server engine's steps: what a server's own handshake rate depends on. */
    private long serverNanos;

    /** What one configuration sets up once: both ends' contexts, the server's counting key manager, the parts. */
    private record Ends(SSLContext server, SSLContext client, CountingKeys keys, HandshakeParts parts) {
    }

    private TlsHandshakeChild(Ends ends) {
        this.ends = ends;
    }

    public static void main(String[] args) throws Exception {
        TlsHandshakeChild child;
        String ready;
        try {
            if (args.length != 3) {
                throw new IllegalArgumentException("usage: TlsHandshakeChild xpfo|xpfo_first|jdk|accp|bc KEY.pem CERT.pem");
            }
            child = new TlsHandshakeChild(create(args[0], Path.of(args[1]), Path.of(args[2])));
            ready = child.ends.keys().key().getClass().getName() + " key shares " + keyShares(args[0]);
            child.handshake(); // fails here, before any measurement, if this configuration cannot shake hands
        } catch (Exception | LinkageError e) {
            System.out.println("error: " + e.toString().replace('\n', ' '));
            System.exit(1);
            return;
        }
        System.out.println("ready " + ready);
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = commands.readLine()) != null; ) {
            String[] words = line.trim().split("\\s+");
            try {
                long amount = Long.parseLong(words[1]);
                System.out.println(switch (words[0]) {
                    case "warm" -> String.valueOf(child.warm(amount));
                    case "run" -> String.valueOf(child.run(amount));
                    case "parts" -> child.ends.parts().time(amount);
                    default -> "error: no command " + words[0];
                });
            } catch (Exception e) {
                System.out.println("error: " + e.toString().replace('\n', ' '));
            }
        }
    }

    private static Ends create(String provider, Path keyPem, Path certificatePem) throws Exception {
        KeyStore serverKeys;
        switch (provider) {
            case "xpfo", "xpfo_first" -> {
                if (provider.equals("xpfo")) {
                    Security.addProvider(new XpfoProvider());
                } else {
                    Security.insertProviderAt(new XpfoProvider(), 1);
                }
                serverKeys = KeyStore.getInstance("XPFO");
                serverKeys.load(new XpfoKeyStoreParameter(keyPem, certificatePem));
            }
            case "jdk", "accp", "bc" -> {
                if (provider.equals("accp")) {
                    String problem = CryptoSuite.accpProblem();
                    if (problem != null) {
                        throw new IllegalStateException("Amazon Corretto Crypto Provider unavailable: " + problem);
                    }
                    AmazonCorrettoCryptoProvider.install();
                } else if (provider.equals("bc")) {
                    Security.insertProviderAt(new BouncyCastleProvider(), 1);
                }
                // The first provider offering each service parses the key and certificate: ACCP's or BC's when first.
                PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pem(keyPem, "PRIVATE KEY")));
                serverKeys = KeyStore.getInstance("PKCS12");
                serverKeys.load(null, null);
                serverKeys.setKeyEntry("server", key, new char[0], new Certificate[] {certificate(certificatePem)});
            }
            default -> throw new IllegalArgumentException("no provider " + provider);
        }
        CountingKeys counting = new CountingKeys(serverKeys);
        PrivateKey served = counting.key();
        String expected = switch (provider) {
            case "xpfo", "xpfo_first" -> "dev.xpfo.crypto.";
            case "jdk" -> "sun.security.ec.";
            case "accp" -> "com.amazon.corretto.";
            default -> "org.bouncycastle.";
        };
        if (!served.getClass().getName().startsWith(expected)) {
            throw new IllegalStateException("the " + provider + " server key is a " + served.getClass().getName());
        }
        SSLContext server = SSLContext.getInstance("TLS");
        server.init(new javax.net.ssl.KeyManager[] {counting}, null, null);

        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        trusted.setCertificateEntry("server", certificate(certificatePem));
        TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
        trust.init(trusted);
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, trust.getTrustManagers(), null);
        return new Ends(server, client, counting, new HandshakeParts(served, certificate(certificatePem).getPublicKey()));
    }

    private static byte[] pem(Path file, String label) throws Exception {
        String text = Files.readString(file);
        int begin = text.indexOf("-----BEGIN " + label + "-----");
        int end = text.indexOf("-----END " + label + "-----");
        if (begin < 0 || end < 0) {
            throw new IllegalArgumentException(file + " has no " + label);
        }
        return Base64.getMimeDecoder().decode(text.substring(begin + label.length() + 16, end));
    }

    private static X509Certificate certificate(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /**
     * Handshakes for {@code millis}, then the handshake's parts alone for half as long (the JIT compiles both
     * here, not in a measured round); returns how many handshakes were done.
     */
    private long warm(long millis) throws Exception {
        long start = System.nanoTime();
        long done = 0;
        while (System.nanoTime() - start < millis * 1_000_000L) {
            handshake();
            done++;
        }
        long partsStart = System.nanoTime();
        while (System.nanoTime() - partsStart < millis * 500_000L) {
            ends.parts().time(5);
        }
        return done;
    }

    /** {@code count} full handshakes; returns the nanoseconds they took and those the server's steps took. */
    private String run(long count) throws Exception {
        long chosenBefore = ends.keys().chosen();
        long serverBefore = serverNanos;
        long start = System.nanoTime();
        for (long i = 0; i < count; i++) {
            handshake();
        }
        long elapsed = System.nanoTime() - start;
        if (ends.keys().chosen() - chosenBefore != count) {
            throw new IllegalStateException("the server chose its certificate " + (ends.keys().chosen() - chosenBefore) + " times in " + count
                    + " handshakes: some were not full handshakes");
        }
        return elapsed + " " + (serverNanos - serverBefore);
    }

    private void handshake() throws SSLException {
        SSLEngine c = ends.client().createSSLEngine(); // no peer host and port: no session is looked up to resume
        c.setUseClientMode(true);
        c.setEnabledProtocols(TLS13);
        SSLEngine s = ends.server().createSSLEngine();
        s.setUseClientMode(false);
        s.setEnabledProtocols(TLS13);
        toServer.clear();
        toClient.clear();
        c.beginHandshake();
        s.beginHandshake();
        for (int steps = 0; !(done(c, toClient) && done(s, toServer)); steps++) {
            boolean moved = step(c, toClient, toServer);
            long serverStart = System.nanoTime();
            moved |= step(s, toServer, toClient);
            serverNanos += System.nanoTime() - serverStart;
            if (!moved || steps > 1000) {
                throw new SSLException(String.format(Locale.ROOT, "handshake stuck: client %s, server %s",
                        c.getHandshakeStatus(), s.getHandshakeStatus()));
            }
        }
        if (!"TLSv1.3".equals(c.getSession().getProtocol())) {
            throw new SSLException("negotiated " + c.getSession().getProtocol());
        }
        c.getSession().invalidate();
        s.getSession().invalidate();
    }

    /** Finished: no handshake step pending and every record sent to it read (the server's session ticket too). */
    private static boolean done(SSLEngine engine, ByteBuffer in) {
        return engine.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING && in.position() == 0;
    }

    /** One step of one end; true if it moved. {@code in} and {@code out} are kept in write mode. */
    private boolean step(SSLEngine engine, ByteBuffer in, ByteBuffer out) throws SSLException {
        HandshakeStatus status = engine.getHandshakeStatus();
        switch (status) {
            case NEED_TASK -> {
                for (Runnable task; (task = engine.getDelegatedTask()) != null; ) {
                    task.run();
                }
                return true;
            }
            case NEED_WRAP -> {
                SSLEngineResult result = engine.wrap(EMPTY, out);
                check(result);
                return result.bytesProduced() > 0 || result.getHandshakeStatus() != status;
            }
            default -> {
                if (in.position() == 0) {
                    return false;
                }
                in.flip();
                application.clear();
                SSLEngineResult result = engine.unwrap(in, application);
                in.compact();
                if (result.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                    return false;
                }
                check(result);
                return result.bytesConsumed() > 0 || result.getHandshakeStatus() != status;
            }
        }
    }

    private static void check(SSLEngineResult result) throws SSLException {
        if (result.getStatus() != SSLEngineResult.Status.OK) {
            throw new SSLException("engine says " + result);
        }
    }

    /**
     * Who makes and agrees JSSE's ephemeral key shares under this process's provider list, asked as JSSE asks
     * (X25519 by {@code NamedParameterSpec}, P-256 by an explicit {@code ECParameterSpec}, no provider named,
     * the agreement chosen by its private key): the providers' names, {@code X25519/P-256}. With XPFO first
     * they must be XPFO's keys and XPFO's agreements, or the configuration refuses to run.
     */
    private static String keyShares(String provider) throws Exception {
        AlgorithmParameters p256 = AlgorithmParameters.getInstance("EC");
        p256.init(new ECGenParameterSpec("secp256r1"));
        String x25519 = keyShare("XDH", NamedParameterSpec.X25519);
        String ec = keyShare("EC", p256.getParameterSpec(ECParameterSpec.class));
        if (provider.equals("xpfo_first") && !(x25519.equals(XpfoProvider.NAME + "/" + XpfoProvider.NAME)
                && ec.equals(XpfoProvider.NAME + "/" + XpfoProvider.NAME))) {
            throw new IllegalStateException("with XPFO first, JSSE's key shares are not XPFO's: X25519 " + x25519 + ", P-256 " + ec
                    + " (key pair generator/key agreement)");
        }
        return x25519 + " " + ec;
    }

    /** The provider of the key pair a JSSE-like request makes, and of the agreement its private key selects. */
    private static String keyShare(String algorithm, AlgorithmParameterSpec group) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
        generator.initialize(group);
        KeyPair pair = generator.generateKeyPair();
        KeyAgreement agreement = KeyAgreement.getInstance(algorithm.equals("EC") ? "ECDH" : algorithm);
        agreement.init(pair.getPrivate());
        agreement.doPhase(pair.getPublic(), true);
        agreement.generateSecret();
        // The generator's provider is the one that took initialize(): KeyPairGenerator fails over to the next one.
        return generator.getProvider().getName() + "/" + agreement.getProvider().getName();
    }

    /**
     * The server's key manager: the key store's one key and its chain, read once (as {@code SunX509} does; its
     * {@code NewSunX509} would ask the store again on every handshake, and a PKCS12 store then decrypts the key
     * with PBKDF2 each time, which would dwarf the cryptography measured here), counting each time it
     * chooses its certificate: once per full handshake, never for a resumed one. It serves no client.
     */
    private static final class CountingKeys extends X509ExtendedKeyManager {
        private static final String ALIAS = "server";
        private final PrivateKey key;
        private final X509Certificate[] chain;
        private long chosen;

        CountingKeys(KeyStore store) throws Exception {
            List<String> aliases = new ArrayList<>();
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias)) {
                    aliases.add(alias);
                }
            }
            if (aliases.size() != 1) {
                throw new IllegalStateException("the server's key store holds " + aliases.size() + " keys, not one");
            }
            this.key = (PrivateKey) store.getKey(aliases.getFirst(), new char[0]);
            this.chain = Arrays.stream(store.getCertificateChain(aliases.getFirst())).map(X509Certificate.class::cast).toArray(X509Certificate[]::new);
        }

        long chosen() {
            return chosen;
        }

        PrivateKey key() {
            return key;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            if (!key.getAlgorithm().equals(keyType)) {
                return null; // JSSE asks once per signature scheme the client offers, until a key fits
            }
            chosen++;
            return ALIAS;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            throw new UnsupportedOperationException("the bench's server uses SSLEngines, not sockets");
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return key.getAlgorithm().equals(keyType) ? new String[] {ALIAS} : null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return ALIAS.equals(alias) ? chain.clone() : null;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return ALIAS.equals(alias) ? key : null;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null; // a server only
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }
}
