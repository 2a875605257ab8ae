// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.crypto.XpfoKeyStoreParameter;
import dev.xpfo.crypto.XpfoProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Security;
import java.security.cert.X509Certificate;
import java.util.concurrent.Callable;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * {@code xpfo tls-serve}: a small HTTPS page served by the JDK's TLS (1.3 and 1.2) with a private key
 * held in secret memory by the XPFO provider, for operators to check their clients against.
 */
@Command(name = "tls-serve", mixinStandardHelpOptions = true,
        description = {"Serves a small HTTPS page with the private key imported into secret memory (out of the kernel's "
                + "direct map) by the XPFO provider; the JDK's TLS 1.3 and 1.2 do the rest.",
                "The key file (PKCS#8 or traditional EC/RSA, PEM or DER, unencrypted) is read straight into secret memory; "
                + "its protection at rest is yours. Runs until interrupted."})
final class TlsServeCommand implements Callable<Integer> {
    private static final int READ_TIMEOUT_MILLIS = 10_000;

    @Option(names = "--key", required = true, paramLabel = "KEY.pem", description = "The private key file (EC P-256/P-384, Ed25519 or RSA).")
    Path key;

    @Option(names = "--cert", required = true, paramLabel = "CERT.pem", description = "Its certificate chain, PEM, the server's certificate first.")
    Path certificate;

    @Option(names = "--port", defaultValue = "8443", description = "TCP port (0: any free port, printed). Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address to listen on (a literal address). Default: ${DEFAULT-VALUE}.")
    String bind;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        InetAddress address = checkOptions();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String prefix = "xpfo tls-serve: ";
        XpfoProvider provider = new XpfoProvider();
        // Last in the list: JSSE's signatures reach XPFO through delayed provider selection on the XPFO key only.
        Security.addProvider(provider);
        KeyStore keys = KeyStore.getInstance("XPFO", provider);
        try {
            keys.load(new XpfoKeyStoreParameter(key, certificate));
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            err.println(prefix + "cannot load " + key + " and " + certificate + ": " + e.getMessage());
            err.flush();
            return Failures.FAILED;
        }
        KeyManagerFactory managers = KeyManagerFactory.getInstance("NewSunX509");
        managers.init(keys, null);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(managers.getKeyManagers(), null, null);
        X509Certificate served = (X509Certificate) keys.getCertificate(XpfoKeyStoreParameter.DEFAULT_ALIAS);
        String algorithm = keys.getKey(XpfoKeyStoreParameter.DEFAULT_ALIAS, null).getAlgorithm();
        SSLServerSocket listening;
        try {
            listening = (SSLServerSocket) context.getServerSocketFactory().createServerSocket(port, 50, address);
        } catch (IOException e) {
            err.println(prefix + "cannot listen on " + bind + ":" + port + ": " + e.getMessage());
            err.flush();
            return Failures.FAILED;
        }
        listening.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        out.println(prefix + "listening on https://" + hostPart(address) + ":" + listening.getLocalPort() + "/ with the "
                + algorithm + " key of " + served.getSubjectX500Principal() + " in secret memory");
        out.flush();
        try (listening) {
            while (true) {
                SSLSocket connection = (SSLSocket) listening.accept();
                Thread.ofVirtual().start(() -> answer(connection, algorithm));
            }
        }
    }

    private InetAddress checkOptions() {
        for (Path file : new Path[] {key, certificate}) {
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                throw Failures.usage(spec, "cannot read " + file + ": not a readable regular file");
            }
        }
        if (port < 0 || port > 65535) {
            throw Failures.usage(spec, "--port must be 0 to 65535, not " + port);
        }
        if (!bind.matches("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*")) {
            throw Failures.usage(spec, "--bind must be a literal IPv4 or IPv6 address, not '" + bind + "'");
        }
        try {
            return InetAddress.getByName(bind);
        } catch (UnknownHostException e) {
            throw Failures.usage(spec, "--bind must be a literal IPv4 or IPv6 address, not '" + bind + "'");
        }
    }

    private static String hostPart(InetAddress address) {
        String host = address.getHostAddress();
        return host.contains(":") ? "[" + host + "]" : host;
    }

    /** One HTTP/1.1 exchange: the request's head is read and ignored, a small page is sent, the connection closed. */
    private static void answer(SSLSocket connection, String algorithm) {
        try (connection) {
            connection.setSoTimeout(READ_TIMEOUT_MILLIS);
            // Each handshake flight and the page go out at once, not held back by Nagle until the client's delayed ACK.
            connection.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(connection.getInputStream(), StandardCharsets.ISO_8859_1));
            String line = in.readLine();
            while (line != null && !line.isEmpty()) {
                line = in.readLine();
            }
            SSLSession session = connection.getSession();
            byte[] body = ("xpfo tls-serve: " + session.getProtocol() + " " + session.getCipherSuite() + ", signed with an "
                    + algorithm + " key held in secret memory (XPFO provider)\n").getBytes(StandardCharsets.US_ASCII);
            OutputStream out = connection.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        } catch (IOException e) {
            // A client that fails its handshake or goes away is its own business; the server keeps serving.
        }
    }
}
