// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.pkey;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.testing.EncodedPublicKey;
import dev.xpfo.crypto.testing.TestKeys;

import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * xpfo's one reader of public keys into libcrypto: each fast path gives the key OpenSSL's decoder gives
 * ({@code EVP_PKEY_eq}); a point off its curve, a key of another type and (with the public check) an
 * invalid RSA key are refused.
 */
class PublicKeyImportTest {
    private static final List<String> ALL_TYPES = List.of("EC", "ED25519", "X25519", "RSA");

    @BeforeAll
    static void heap() {
        CryptoHeap.ensureInstalled(); // before libcrypto's first allocation
    }

    @ParameterizedTest
    @CsvSource({
            "EC, secp256r1, EC",
            "EC, secp384r1, EC",
            "EC, secp521r1, EC",
            "XDH, X25519, X25519",
            "Ed25519, -, ED25519",
            "RSA, 2048, RSA",
            "RSA, 4096, RSA"})
    void eachFastPathGivesTheKeyTheDecoderGives(String algorithm, String curveOrSize, String type) throws Exception {
        PublicKey key = TestKeys.jdk(algorithm, curveOrSize).getPublic();
        MemorySegment fast = PublicKeyImport.fastPath(key, key.getEncoded(), "test");
        MemorySegment decoded = PublicKeyImport.decode(key, key.getEncoded(), "test");
        MemorySegment read = PublicKeyImport.read(key, "test", "takes a key", List.of(type), PublicKeyImport.Validation.PUBLIC_CHECK);
        try {
            assertThat(fast).as("a fast path for " + algorithm + " " + curveOrSize).isNotEqualTo(MemorySegment.NULL);
            assertThat(LibCrypto.evpPkeyEq(fast, decoded)).as("EVP_PKEY_eq(fast path, d2i_PUBKEY)").isEqualTo(1);
            assertThat(LibCrypto.evpPkeyEq(read, decoded)).as("EVP_PKEY_eq(read, d2i_PUBKEY)").isEqualTo(1);
        } finally {
            LibCrypto.evpPkeyFree(fast);
            LibCrypto.evpPkeyFree(decoded);
            LibCrypto.evpPkeyFree(read);
        }
    }

    @Test
    void anotherKeyOfTheSameTypeIsNotEqual() throws Exception {
        PublicKey one = TestKeys.jdk("EC", "secp256r1").getPublic();
        PublicKey other = TestKeys.jdk("EC", "secp256r1").getPublic();
        MemorySegment a = PublicKeyImport.fastPath(one, one.getEncoded(), "test");
        MemorySegment b = PublicKeyImport.decode(other, other.getEncoded(), "test");
        try {
            assertThat(LibCrypto.evpPkeyEq(a, b)).as("EVP_PKEY_eq can say no").isEqualTo(0);
        } finally {
            LibCrypto.evpPkeyFree(a);
            LibCrypto.evpPkeyFree(b);
        }
    }

    @ParameterizedTest
    @CsvSource({"secp256r1, P-256", "secp384r1, P-384", "secp521r1, P-521"})
    void aPointOffItsCurveIsRefused(String curve, String group) throws Exception {
        byte[] encoded = TestKeys.jdk("EC", curve).getPublic().getEncoded();
        encoded[encoded.length - 1] ^= 1; // the last byte of y
        PublicKey offCurve = new EncodedPublicKey("EC", "X.509", encoded);
        for (PublicKeyImport.Validation validation : PublicKeyImport.Validation.values()) {
            assertThatThrownBy(() -> PublicKeyImport.read(offCurve, "test", "takes an EC key", List.of("EC"), validation))
                    .isInstanceOf(InvalidKeyException.class).hasMessageContaining(group);
        }
    }

    @Test
    void aKeyOfAnotherTypeIsRefused() throws Exception {
        PublicKey ed25519 = TestKeys.jdk("Ed25519", "-").getPublic();
        PublicKey x25519 = TestKeys.jdk("XDH", "X25519").getPublic();
        PublicKey rsa = TestKeys.jdk("RSA", "2048").getPublic();
        assertThatThrownBy(() -> PublicKeyImport.read(ed25519, "XPFO's ECDH", "takes the peer's EC public key", List.of("EC"),
                PublicKeyImport.Validation.PUBLIC_CHECK))
                .isInstanceOf(InvalidKeyException.class).hasMessage("XPFO's ECDH takes the peer's EC public key, not EdDSA key "
                        + ed25519.getClass().getName());
        // X25519 and Ed25519 share a curve and a length: the type decides.
        assertThatThrownBy(() -> PublicKeyImport.read(x25519, "test", "takes an Ed25519 key", List.of("ED25519"), PublicKeyImport.Validation.IMPORT))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("not XDH key");
        assertThatThrownBy(() -> PublicKeyImport.read(rsa, "test", "takes an EC key", List.of("EC"), PublicKeyImport.Validation.IMPORT))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("not RSA key");
    }

    /** What the public check adds to the import: an RSA modulus that is even is read, but refused by EVP_PKEY_public_check. */
    @Test
    void thePublicCheckRefusesWhatImportingAccepts() throws Exception {
        RSAPublicKey real = (RSAPublicKey) TestKeys.jdk("RSA", "2048").getPublic();
        PublicKey even = KeyFactory.getInstance("RSA").generatePublic(
                new RSAPublicKeySpec(real.getModulus().clearBit(0), BigInteger.valueOf(65537)));
        MemorySegment read = PublicKeyImport.read(even, "test", "takes an RSA key", ALL_TYPES, PublicKeyImport.Validation.IMPORT);
        LibCrypto.evpPkeyFree(read);
        assertThatThrownBy(() -> PublicKeyImport.read(even, "test", "takes an RSA key", ALL_TYPES, PublicKeyImport.Validation.PUBLIC_CHECK))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("EVP_PKEY_public_check");
    }

    @Test
    void aKeyWithoutAnX509EncodingTheJdkCannotTranslateAndNullAreRefused() {
        PublicKey unknown = new EncodedPublicKey("Nothing", "RAW", new byte[] {1, 2, 3});
        assertThatThrownBy(() -> PublicKeyImport.read(unknown, "test", "takes an EC key", List.of("EC"), PublicKeyImport.Validation.IMPORT))
                .isInstanceOf(InvalidKeyException.class).hasMessageContaining("no X.509 encoding");
        assertThatThrownBy(() -> PublicKeyImport.read(null, "test", "takes an EC key", List.of("EC"), PublicKeyImport.Validation.IMPORT))
                .isInstanceOf(InvalidKeyException.class).hasMessage("test takes an EC key, not null");
    }
}
