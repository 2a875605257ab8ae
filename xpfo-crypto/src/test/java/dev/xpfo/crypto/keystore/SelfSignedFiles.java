// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keystore;

import dev.xpfo.testing.Child;

import java.io.InputStream;
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

    /** The certificate as the JDK reads it. */
    public X509Certificate readCertificate() throws Exception {
        try (InputStream in = Files.newInputStream(certificate)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }
}
