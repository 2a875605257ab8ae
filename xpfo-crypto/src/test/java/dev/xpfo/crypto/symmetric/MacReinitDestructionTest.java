// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.XpfoProvider;
import dev.xpfo.crypto.heap.CryptoHeap;
import org.junit.jupiter.api.Test;

import java.security.InvalidKeyException;
import java.security.Provider;

import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Review (attack on L4): a Mac keyed with A that is then refused another key (destroyed already) forgets
 * A before the refusal ({@code key = null}), but its context still holds A's copy and HMAC pads. When A
 * is destroyed afterwards, {@code keyDestroyed} no longer recognises A, and A's copy in libcrypto stays
 * until the Mac is collected: {@code destroy()} does not reach every copy, as its javadoc promises. (Either
 * fix passes: free the context when the second key is refused, or keep recognising A.)
 */
class MacReinitDestructionTest {
    private static final Provider XPFO = new XpfoProvider();
    /** More than a key (at most 64 bytes, in one block): HMAC's three digest contexts. */
    private static final long MORE_THAN_THE_KEY = 256;

    @Test
    void aMacRefusedASecondKeyStillFreesTheFirstKeysCopyWhenThatKeyIsDestroyed() throws Exception {
        KeyGenerator generator = KeyGenerator.getInstance("HmacSHA256", XPFO);
        SecretKey first = generator.generateKey();
        SecretKey destroyed = generator.generateKey();
        destroyed.destroy();
        Mac mac = Mac.getInstance("HmacSHA256", XPFO);
        mac.init(first);
        mac.update(new byte[100]);

        long keyed = CryptoHeap.stats().inUseBytes();
        assertThatThrownBy(() -> mac.init(destroyed)).isInstanceOf(InvalidKeyException.class);
        first.destroy();
        long freed = keyed - CryptoHeap.stats().inUseBytes();

        assertThat(freed).as("bytes libcrypto's heap got back by the time the first key is destroyed: the key and the Mac's copy of it")
                .isGreaterThan(MORE_THAN_THE_KEY);
    }
}
