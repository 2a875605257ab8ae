// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.tls;

import dev.xpfo.crypto.XpfoKeyStoreParameter;
import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.keys.XpfoPrivateKey;
import dev.xpfo.crypto.testing.SelfSignedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509KeyManager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A JSSE server whose private key is an XPFO key, loaded by the XPFO key store and served by the JDK's
 * standard key manager, with XPFO LAST in the provider list: a JSSE client completes TLS 1.3 and 1.2
 * handshakes and sees the certificate that was loaded. Without XPFO in the provider list the same
 * server cannot sign at all, so the signatures of the handshakes were XPFO's.
 */
class JsseServerTest {
    private static final Provider XPFO = new XpfoProvider();
    private static boolean added;

    @TempDir
    Path directory;

    @BeforeAll
    static void xpfoLast() {
        added = Security.addProvider(XPFO) != -1;
        Provider[] providers = Security.getProviders();
        assertThat(providers[providers.length - 1].getName()).isEqualTo(XpfoProvider.NAME);
    }

    @AfterAll
    static void removeXpfo() {
        if (added) {
            Security.removeProvider(XpfoProvider.NAME);
        }
    }

    static Stream<Arguments> keysAndProtocols() {
        return Arrays.stream(SelfSignedFiles.Type.values())
                .flatMap(type -> Stream.of(Arguments.of(type, "TLSv1.3"), Arguments.of(type, "TLSv1.2")));
    }

    private record Server(SSLContext context, KeyStore keys, X509KeyManager manager) {
    }

    private static Server server(SelfSignedFiles files) throws Exception {
        KeyStore keys = KeyStore.getInstance("XPFO");
        keys.load(new XpfoKeyStoreParameter(files.key(), files.certificate()));
        KeyManagerFactory factory = KeyManagerFactory.getInstance("NewSunX509");
        factory.init(keys, null);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(factory.getKeyManagers(), null, null);
        return new Server(context, keys, (X509KeyManager) factory.getKeyManagers()[0]);
    }

    /** One connection: the client sends a line, the server answers it; the client's session is returned. */
    private static javax.net.ssl.SSLSession exchange(SSLContext server, SSLContext client, String protocol) throws Exception {
        return exchange(server, client, protocol, null);
    }

    /** As above, the client offering only {@code namedGroups} for the key exchange (null: the defaults). */
    private static javax.net.ssl.SSLSession exchange(SSLContext server, SSLContext client, String protocol, String[] namedGroups) throws Exception {
        try (SSLServerSocket listening = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                try (SSLSocket accepted = (SSLSocket) listening.accept()) {
                    accepted.setSoTimeout(30_000);
                    BufferedReader in = new BufferedReader(new InputStreamReader(accepted.getInputStream(), StandardCharsets.US_ASCII));
                    String line = in.readLine();
                    OutputStream out = accepted.getOutputStream();
                    out.write(("hello " + line + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            javax.net.ssl.SSLSession session;
            try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), listening.getLocalPort())) {
                socket.setSoTimeout(30_000);
                socket.setEnabledProtocols(new String[] {protocol});
                if (namedGroups != null) {
                    SSLParameters parameters = socket.getSSLParameters();
                    parameters.setNamedGroups(namedGroups);
                    socket.setSSLParameters(parameters);
                }
                OutputStream out = socket.getOutputStream();
                out.write("client\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String reply = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                assertThat(reply).isEqualTo("hello client");
                session = socket.getSession();
            } finally {
                // The client closes first: a TLS 1.3 server's close waits for the client's close_notify.
                served.exceptionally(e -> null).get(60, TimeUnit.SECONDS);
            }
            return session;
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("keysAndProtocols")
    void aJsseClientCompletesTheHandshakeWithTheXpfoKey(SelfSignedFiles.Type type, String protocol) throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", type);
        Server server = server(files);
        String alias = server.manager().getServerAliases(type == SelfSignedFiles.Type.EC_P256 ? "EC" : type == SelfSignedFiles.Type.ED25519 ? "EdDSA" : "RSA", null)[0];
        assertThat(server.manager().getPrivateKey(alias)).isInstanceOf(XpfoPrivateKey.class).isSameAs(server.keys().getKey("xpfo", null));

        javax.net.ssl.SSLSession session = exchange(server.context(), files.trustingClient(), protocol);

        assertThat(session.getProtocol()).isEqualTo(protocol);
        assertThat(session.getPeerCertificates()).containsExactly(files.readCertificate());
    }

    /**
     * With XPFO first, JSSE's ephemeral key shares on P-256 and P-384 are XPFO keys (its generator accepts the
     * curve parameters JSSE passes) and their agreement is XPFO's ECDH with the peer's JDK public key.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"secp256r1", "secp384r1", "x25519"})
    void withXpfoFirstTheEphemeralKeySharesWorkToo(String group) throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256);
        Server server = server(files);
        Security.removeProvider(XpfoProvider.NAME);
        Security.insertProviderAt(XPFO, 1);
        try {
            javax.net.ssl.SSLSession session = exchange(server.context(), files.trustingClient(), "TLSv1.3", new String[] {group});
            assertThat(session.getPeerCertificates()).containsExactly(files.readCertificate());
        } finally {
            Security.removeProvider(XpfoProvider.NAME);
            Security.addProvider(XPFO);
        }
    }

    @Test
    void withoutXpfoInTheProviderListTheServerCannotSign() throws Exception {
        SelfSignedFiles files = SelfSignedFiles.make(directory, "server", SelfSignedFiles.Type.EC_P256);
        Server server = server(files);
        SSLContext client = files.trustingClient();
        Security.removeProvider(XpfoProvider.NAME);
        try {
            assertThatThrownBy(() -> exchange(server.context(), client, "TLSv1.3")).isInstanceOf(SSLException.class).hasMessageContaining("internal_error");
        } finally {
            Security.addProvider(XPFO);
        }
        assertThat(exchange(server.context(), client, "TLSv1.3").getPeerCertificates()).containsExactly(files.readCertificate());
    }
}
