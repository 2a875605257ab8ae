// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import javax.crypto.KeyAgreement;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.NamedParameterSpec;
import java.util.List;
import java.util.Locale;

/**
 * The public-key operations of one full TLS 1.3 handshake as JSSE asks the JCA for them (a new
 * {@code getInstance} per operation, no provider named: whichever the process's provider list picks), each
 * timed alone so a handshake's time can be split into them. Per handshake with the JDK's default groups the
 * client makes an X25519 and a P-256 key share, the server an X25519 one and picks X25519, each side does one
 * X25519 agreement, the server signs its CertificateVerify (ECDSA P-256 with SHA-256) and the client verifies
 * it. What is left of a handshake's time is JSSE itself, HKDF and HMAC of the key schedule, the records'
 * AES-GCM and the certificate's parsing.
 */
final class HandshakeParts {
    /** The parts, in the order {@link #time} answers. */
    static final List<String> NAMES = List.of("server_sign", "client_verify", "x25519_keygen", "p256_keygen", "x25519_agree");
    /** How often each part happens in one handshake, in {@link #NAMES}' order. */
    static final List<Integer> PER_HANDSHAKE = List.of(1, 1, 2, 1, 2);

    private final PrivateKey serverKey;
    private final PublicKey certificateKey;
    private final byte[] signed = new byte[130]; // about what TLS 1.3 signs: 64 spaces, a context string, a hash
    private final byte[] signature;
    private final KeyPair peer;

    HandshakeParts(PrivateKey serverKey, PublicKey certificateKey) throws Exception {
        this.serverKey = serverKey;
        this.certificateKey = certificateKey;
        this.signature = sign();
        this.peer = x25519();
        if (!verify()) {
            throw new IllegalStateException("the server key's signature does not verify with the certificate's key");
        }
    }

    /** Runs each part {@code count} times; answers nanoseconds per operation, space-separated, in {@link #NAMES}' order. */
    String time(long count) throws Exception {
        long[] nanos = new long[NAMES.size()];
        for (int part = 0; part < nanos.length; part++) {
            long start = System.nanoTime();
            for (long i = 0; i < count; i++) {
                CryptoSuite.sink = switch (part) {
                    case 0 -> sign();
                    case 1 -> verify();
                    case 2 -> x25519();
                    case 3 -> p256();
                    default -> agree();
                };
            }
            nanos[part] = (System.nanoTime() - start) / count;
        }
        StringBuilder answer = new StringBuilder();
        for (long n : nanos) {
            answer.append(String.format(Locale.ROOT, "%d ", n));
        }
        return answer.toString().trim();
    }

    private byte[] sign() throws Exception {
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(serverKey);
        signer.update(signed);
        return signer.sign();
    }

    private boolean verify() throws Exception {
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(certificateKey);
        verifier.update(signed);
        return verifier.verify(signature);
    }

    private static KeyPair x25519() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("XDH");
        generator.initialize(NamedParameterSpec.X25519);
        return generator.generateKeyPair();
    }

    private static KeyPair p256() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    private byte[] agree() throws Exception {
        KeyAgreement agreement = KeyAgreement.getInstance("XDH");
        agreement.init(peer.getPrivate());
        agreement.doPhase(peer.getPublic(), true);
        return agreement.generateSecret();
    }
}
