// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import dev.xpfo.testing.Child;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.security.KeyStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A private key file and its self-signed certificate, made by {@code openssl req -x509}. */
public record SelfSignedFiles(Path key, Path certificate) {
    /** The key types of TLS server keys, as {@code openssl req -newkey} spells them. */
    public enum Type {
        EC_P256("ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
        ED25519("ed25519"),
        RSA_2048("rsa:2048");

        private final List<String> newKey;

        Type(String algorithm, String... options) {
            newKey = new ArrayList<>(List.of("-newkey", algorithm));
            newKey.addAll(List.of(options));
        }
    }

    /** Makes {@code NAME.key.pem} and {@code NAME.cert.pem} in {@code directory}. */
    public static SelfSignedFiles make(Path directory, String name, Type type) throws Exception {
        Path key = directory.resolve(name + ".key.pem");
        Path certificate = directory.resolve(name + ".cert.pem");
        List<String> command = new ArrayList<>(List.of("openssl", "req", "-x509"));
        command.addAll(type.newKey);
        command.addAll(List.of("-nodes", "-keyout", key.toString(), "-out", certificate.toString(),
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2"));
        Child.Result result = Child.run(command, Duration.ofSeconds(60));
        if (result.exitCode() != 0) {
            throw new IllegalStateException("openssl req failed: " + result.stderr());
        }
        return new SelfSignedFiles(key, certificate);
    }

    /** Makes {@code NAME.key.pem} and {@code NAME.cert.pem} with a key of {@code type} ("ec", "ed25519" or "rsa"). */
    public static SelfSignedFiles make(Path directory, String name, String type) throws Exception {
        return make(directory, name, switch (type) {
            case "ec" -> Type.EC_P256;
            case "ed25519" -> Type.ED25519;
            case "rsa" -> Type.RSA_2048;
            default -> throw new IllegalArgumentException("no key type " + type);
        });
    }

    /** A TLS client context that trusts exactly this certificate. */
    public SSLContext trustingClient() throws Exception {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        trusted.setCertificateEntry("server", readCertificate());
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(trusted);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }

    /** The EC private scalar in the key file, 32 bytes big-endian (P-256), read with the JDK ({@link KeyMaterial}). */
    public byte[] ecScalar() throws Exception {
        return KeyMaterial.secrets("ec", key).get("ec.scalar");
    }

    /** {@code bytes} in reverse order: how a little-endian machine holds a BIGNUM's limbs. */
    public static byte[] reversed(byte[] bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[bytes.length - 1 - i];
        }
        return out;
    }

    /** The certificate as the JDK reads it. */
    public X509Certificate readCertificate() throws Exception {
        try (InputStream in = Files.newInputStream(certificate)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }
}
