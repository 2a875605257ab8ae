// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.Provider;
import java.security.Security;
import java.util.Random;

import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** XPFO's HMACs compute the RFC 4231 vectors and what SunJCE computes, and take only XPFO keys. */
class XpfoHmacTest {
    private static final Provider XPFO = new XpfoProvider();

    /** RFC 4231 test cases 1 (key 0x0b x 20, "Hi There") and 2 (key "Jefe"), for SHA-256, -384 and -512. */
    @ParameterizedTest
    @CsvSource({
        "HmacSHA256, 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b, 4869205468657265, b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "HmacSHA384, 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b, 4869205468657265, afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        "HmacSHA512, 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b, 4869205468657265, 87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        "HmacSHA256, 4a656665, 7768617420646f2079612077616e7420666f72206e6f7468696e673f, 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "HmacSHA384, 4a656665, 7768617420646f2079612077616e7420666f72206e6f7468696e673f, af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        "HmacSHA512, 4a656665, 7768617420646f2079612077616e7420666f72206e6f7468696e673f, 164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    })
    void rfc4231KnownAnswers(String algorithm, String key, String data, String expected) throws Exception {
        Mac mac = Mac.getInstance(algorithm, XPFO);
        mac.init(XpfoSecretKey.importForTest(algorithm, Hex.bytes(key)));

        assertThat(Hex.hex(mac.doFinal(Hex.bytes(data)))).isEqualTo(expected);
        assertThat(mac.getMacLength()).isEqualTo(expected.length() / 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"HmacSHA256", "HmacSHA384", "HmacSHA512"})
    void agreesWithSunJceOverPiecewiseUpdatesAndAcrossResets(String algorithm) throws Exception {
        Random random = new Random(13);
        byte[] key = new byte[100];
        random.nextBytes(key);
        Mac xpfo = Mac.getInstance(algorithm, XPFO);
        xpfo.init(XpfoSecretKey.importForTest(algorithm, key));
        Mac jdk = Mac.getInstance(algorithm, "SunJCE");
        jdk.init(new SecretKeySpec(key, algorithm));

        for (int length : new int[] {0, 1, 63, 64, 65, 1024, 10_000}) {
            byte[] message = new byte[length];
            random.nextBytes(message);
            int half = length / 2;
            xpfo.update(message, 0, half);
            xpfo.update(message, half, length - half);
            assertThat(xpfo.doFinal()).as("%d bytes", length).isEqualTo(jdk.doFinal(message));
        }
        xpfo.update("abandoned".getBytes(StandardCharsets.US_ASCII));
        xpfo.reset();
        assertThat(xpfo.doFinal(new byte[] {1, 2, 3})).isEqualTo(jdk.doFinal(new byte[] {1, 2, 3}));
    }

    /** Direct and heap ByteBuffers (whole, or a window of a larger one) give what the array path and SunJCE give. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void byteBuffersGiveWhatArraysAndSunJceGive(boolean direct) throws Exception {
        Random random = new Random(41);
        byte[] key = new byte[32];
        random.nextBytes(key);
        byte[] message = new byte[100_000]; // more than one 64 KiB piece
        random.nextBytes(message);
        Mac jdk = Mac.getInstance("HmacSHA256", "SunJCE");
        jdk.init(new SecretKeySpec(key, "HmacSHA256"));
        byte[] expected = jdk.doFinal(message);
        Mac xpfo = Mac.getInstance("HmacSHA256", XPFO);
        xpfo.init(XpfoSecretKey.importForTest("HmacSHA256", key));

        ByteBuffer buffer = direct ? ByteBuffer.allocateDirect(message.length + 10) : ByteBuffer.allocate(message.length + 10);
        buffer.position(7).put(message).position(7).limit(7 + 500);
        xpfo.update(buffer);
        assertThat(buffer.position()).isEqualTo(7 + 500);
        buffer.limit(7 + message.length);
        xpfo.update(buffer.asReadOnlyBuffer());
        assertThat(xpfo.doFinal()).isEqualTo(expected);
        assertThat(xpfo.doFinal(message)).isEqualTo(expected);
    }

    /**
     * M2: a direct buffer goes to libcrypto where it is; XPFO's Mac copied it into a heap array first (and
     * left that copy unwiped). Updating with 1 MiB now allocates nothing that size in the heap.
     */
    @Test
    void aDirectBufferDoesNotPassThroughTheHeap() throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256", XPFO);
        mac.init(KeyGenerator.getInstance("HmacSHA256", XPFO).generateKey());
        ByteBuffer message = ByteBuffer.allocateDirect(1 << 20);
        for (int round = 0; round < 3; round++) { // the last round is measured, after class loading and first-call setup
            message.clear();
            long before = HeapAllocations.ofThisThread();
            mac.update(message);
            long allocated = HeapAllocations.ofThisThread() - before;
            mac.doFinal();
            if (round == 2) {
                assertThat(allocated).as("heap bytes allocated to MAC 1 MiB").isLessThan(64 * 1024);
            }
        }
    }

    /** M2: the MAC is written to a buffer in libcrypto's heap and wiped there once copied out (it sat in ordinary native memory). */
    @Test
    void theMacIsWipedFromNativeMemoryOnceHandedOut() throws Exception {
        XpfoHmac mac = new XpfoHmac("HmacSHA512");
        mac.engineInit(KeyGenerator.getInstance("HmacSHA512", XPFO).generateKey(), null);
        mac.engineUpdate(new byte[] {1, 2, 3}, 0, 3);

        assertThat(mac.engineDoFinal()).hasSize(64).isNotEqualTo(new byte[64]);
        assertThat(mac.macBuffer().toArray(JAVA_BYTE)).containsOnly(0);
    }

    @Test
    void aJdkKeyIsRefusedClearly() throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256", XPFO);

        assertThatThrownBy(() -> mac.init(new SecretKeySpec(new byte[32], "HmacSHA256")))
                .isInstanceOf(InvalidKeyException.class)
                .hasMessageContaining("takes only XPFO secret keys").hasMessageContaining("SecretKeySpec");
    }

    @Test
    void aMacWithoutAKeyRefusesToRun() throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256", XPFO);

        assertThatThrownBy(() -> mac.doFinal(new byte[1])).isInstanceOf(IllegalStateException.class);
    }

    /** Delayed provider selection: XPFO last in the list still gets XPFO keys, and only those. */
    @Test
    void xpfoKeysGoToXpfoWhereverItSitsAndOtherKeysElsewhere() throws Exception {
        SecretKey xpfoKey = KeyGenerator.getInstance("HmacSHA256", XPFO).generateKey();
        Security.addProvider(XPFO);
        try {
            assertThat(Security.getProviders()[Security.getProviders().length - 1].getName()).isEqualTo("XPFO");

            Mac forXpfoKey = Mac.getInstance("HmacSHA256");
            forXpfoKey.init(xpfoKey);
            assertThat(forXpfoKey.getProvider().getName()).isEqualTo("XPFO");

            Mac forJdkKey = Mac.getInstance("HmacSHA256");
            forJdkKey.init(new SecretKeySpec(new byte[32], "HmacSHA256"));
            assertThat(forJdkKey.getProvider().getName()).isEqualTo("SunJCE");
        } finally {
            Security.removeProvider("XPFO");
        }
    }
}
