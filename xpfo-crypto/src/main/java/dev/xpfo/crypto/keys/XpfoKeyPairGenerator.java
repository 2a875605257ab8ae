// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.InvalidParameterException;
import java.security.KeyPair;
import java.security.KeyPairGeneratorSpi;
import java.security.ProviderException;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.util.Locale;
import java.util.Map;

/**
 * Key pairs generated inside libcrypto ({@code EVP_PKEY_Q_keygen}): the private key is an
 * {@link XpfoPrivateKey}, the public key a standard JDK key. Randomness is libcrypto's DRBG (seeded
 * from the kernel); a {@link SecureRandom} given to {@code initialize} is not used.
 */
final class XpfoKeyPairGenerator extends KeyPairGeneratorSpi {
    /** What a generator makes. */
    enum Kind { EC, ED25519, X25519, RSA }

    private static final Map<String, String> CURVES = Map.ofEntries(
            Map.entry("secp256r1", "P-256"), Map.entry("p-256", "P-256"), Map.entry("nist p-256", "P-256"),
            Map.entry("prime256v1", "P-256"), Map.entry("1.2.840.10045.3.1.7", "P-256"),
            Map.entry("secp384r1", "P-384"), Map.entry("p-384", "P-384"), Map.entry("nist p-384", "P-384"),
            Map.entry("1.3.132.0.34", "P-384"));
    private static final int RSA_MIN_BITS = 2048;
    private static final int RSA_MAX_BITS = 4096;

    private final Kind kind;
    private String curve = "P-384"; // the JDK's default EC size (384) since JDK 20
    private int rsaBits = 3072;     // the JDK's default RSA size since JDK 19

    XpfoKeyPairGenerator(Kind kind) {
        this.kind = kind;
    }

    @Override
    public void initialize(int keySize, SecureRandom random) {
        switch (kind) {
            case EC -> curve = switch (keySize) {
                case 256 -> "P-256";
                case 384 -> "P-384";
                default -> throw new InvalidParameterException("XPFO EC keys are 256 (P-256) or 384 (P-384) bits, not " + keySize);
            };
            case RSA -> rsaBits = rsaSize(keySize);
            case ED25519, X25519 -> {
                if (keySize != 255) {
                    throw new InvalidParameterException(kind + " keys are 255 bits, not " + keySize);
                }
            }
        }
    }

    @Override
    public void initialize(AlgorithmParameterSpec params, SecureRandom random) throws InvalidAlgorithmParameterException {
        switch (kind) {
            case EC -> {
                curve = switch (params) {
                    case ECGenParameterSpec spec -> {
                        String name = CURVES.get(spec.getName().toLowerCase(Locale.ROOT));
                        if (name == null) {
                            throw new InvalidAlgorithmParameterException("XPFO EC keys are on secp256r1 or secp384r1, not " + spec.getName());
                        }
                        yield name;
                    }
                    case ECParameterSpec spec -> StandardCurves.nameOf(spec).orElseThrow(() -> new InvalidAlgorithmParameterException(
                            "XPFO EC keys are on secp256r1 or secp384r1, and these parameters are neither: " + spec));
                    case null, default -> throw new InvalidAlgorithmParameterException(
                            "XPFO EC key generation takes an ECGenParameterSpec (secp256r1, secp384r1) or those curves' ECParameterSpec");
                };
            }
            case RSA -> {
                if (!(params instanceof RSAKeyGenParameterSpec spec)) {
                    throw new InvalidAlgorithmParameterException("XPFO RSA key generation takes an RSAKeyGenParameterSpec");
                }
                if (!RSAKeyGenParameterSpec.F4.equals(spec.getPublicExponent())) {
                    throw new InvalidAlgorithmParameterException("XPFO RSA keys use the public exponent 65537 only");
                }
                try {
                    rsaBits = rsaSize(spec.getKeysize());
                } catch (InvalidParameterException e) {
                    throw new InvalidAlgorithmParameterException(e.getMessage());
                }
            }
            case ED25519, X25519 -> {
                String expected = kind == Kind.ED25519 ? "Ed25519" : "X25519";
                if (!(params instanceof NamedParameterSpec spec) || !spec.getName().equalsIgnoreCase(expected)) {
                    throw new InvalidAlgorithmParameterException("this generator makes " + expected + " keys only");
                }
            }
        }
    }

    private static int rsaSize(int bits) {
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
            throw new InvalidParameterException("XPFO RSA keys are " + RSA_MIN_BITS + " to " + RSA_MAX_BITS + " bits, not " + bits);
        }
        return bits;
    }

    @Override
    public KeyPair generateKeyPair() {
        CryptoHeap.ensureInstalled(); // refuses if libcrypto's secure heap (direct map) came up since installing
        MemorySegment pkey;
        try (Arena arena = Arena.ofConfined()) {
            pkey = switch (kind) {
                case EC -> LibCrypto.evpPkeyQKeygenNamed(MemorySegment.NULL, MemorySegment.NULL,
                        arena.allocateFrom("EC"), arena.allocateFrom(curve));
                case RSA -> LibCrypto.evpPkeyQKeygenSized(MemorySegment.NULL, MemorySegment.NULL,
                        arena.allocateFrom("RSA"), rsaBits);
                case ED25519 -> LibCrypto.evpPkeyQKeygen(MemorySegment.NULL, MemorySegment.NULL, arena.allocateFrom("ED25519"));
                case X25519 -> LibCrypto.evpPkeyQKeygen(MemorySegment.NULL, MemorySegment.NULL, arena.allocateFrom("X25519"));
            };
        }
        if (pkey.equals(MemorySegment.NULL)) {
            throw new ProviderException(OpenSslErrors.failure("EVP_PKEY_Q_keygen", "generating a " + kind + " key"));
        }
        try {
            XpfoPrivateKey key = KeyAdoption.adopt(pkey);
            return new KeyPair(key.publicKey(), key);
        } catch (InvalidKeyException e) {
            throw new ProviderException("a generated " + kind + " key was refused: " + e.getMessage(), e);
        }
    }
}
