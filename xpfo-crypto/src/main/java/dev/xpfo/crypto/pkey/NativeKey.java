// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.pkey;

import java.lang.foreign.MemorySegment;

/**
 * A key whose material is a libcrypto {@code EVP_PKEY} in secret memory. For xpfo's own services
 * (signatures, key agreement): this package is not exported.
 */
public interface NativeKey {
    /**
     * A new reference to the key's {@code EVP_PKEY} ({@code EVP_PKEY_up_ref}): the caller owns it and
     * must release it with {@code EVP_PKEY_free}, typically right after handing it to a context
     * (which holds its own reference).
     *
     * @throws IllegalStateException if the key was destroyed
     */
    MemorySegment newReference();
}
