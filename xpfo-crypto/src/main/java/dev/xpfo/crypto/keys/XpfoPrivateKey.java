// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.keys;

import dev.xpfo.crypto.pkey.ContextTemplates;
import dev.xpfo.crypto.pkey.NativeKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.security.PrivateKey;
import java.security.PublicKey;
import javax.security.auth.Destroyable;

/**
 * An opaque private key of the XPFO provider: its material exists only in a libcrypto
 * {@code EVP_PKEY} allocated in secret memory, never in a {@code byte[]}. {@link #getEncoded()} and
 * {@link #getFormat()} return null (so no provider can translate it into its own key, and no
 * {@code KeyStore} of the JDK's can store it). {@link #destroy()} releases the {@code EVP_PKEY}
 * (libcrypto cleanses it on its last reference); a key that is never destroyed is released when it
 * becomes unreachable, with the signing contexts initialised with it ({@code ContextTemplates}).
 *
 * <p>Not serializable. {@link #getAlgorithm()} is what JSSE matches against the certificate's key:
 * {@code "EC"}, {@code "EdDSA"}, {@code "RSA"}, {@code "XDH"}.
 */
public abstract sealed class XpfoPrivateKey implements PrivateKey, Destroyable, NativeKey
        permits XpfoEcPrivateKey, XpfoEdDsaPrivateKey, XpfoRsaPrivateKey, XpfoXdhPrivateKey {
    private static final Cleaner CLEANER = Cleaner.create();

    private final String algorithm;
    private final PublicKey publicKey;
    private final transient ContextTemplates templates = new ContextTemplates();
    private final transient Owner owner;
    private final transient Cleaner.Cleanable cleanable;

    XpfoPrivateKey(String algorithm, MemorySegment pkey, PublicKey publicKey) {
        this.algorithm = algorithm;
        this.publicKey = publicKey;
        this.owner = new Owner(pkey, templates);
        this.cleanable = CLEANER.register(this, owner);
    }

    @Override
    public final String getAlgorithm() {
        return algorithm;
    }

    /** Always null: the key has no encoding outside libcrypto. */
    @Override
    public final String getFormat() {
        return null;
    }

    /** Always null: the key's material never leaves secret memory. */
    @Override
    public final byte[] getEncoded() {
        return null;
    }

    /** The matching public key, a standard JDK object (public material). */
    public final PublicKey publicKey() {
        return publicKey;
    }

    /** Releases the key's {@code EVP_PKEY}; later uses throw {@link IllegalStateException}. Idempotent. */
    @Override
    public final void destroy() {
        cleanable.clean();
    }

    @Override
    public final boolean isDestroyed() {
        return owner.isFreed();
    }

    @Override
    public final MemorySegment newReference() {
        return owner.newReference();
    }

    /**
     * The signing contexts initialised with this key, for xpfo's signatures to copy (internal: the
     * type is in a package the module does not export). Freed by {@link #destroy()}.
     */
    public final ContextTemplates contextTemplates() {
        return templates;
    }

    /** A description such as "XPFO EC private key (256-bit)": never the material. */
    @Override
    public final String toString() {
        return "XPFO " + algorithm + " private key (" + describe() + (isDestroyed() ? ", destroyed" : ", in secret memory") + ")";
    }

    /** Public facts for {@link #toString()}: the curve or size. */
    abstract String describe();

    private void writeObject(ObjectOutputStream out) throws NotSerializableException {
        throw new NotSerializableException("an XPFO key never leaves secret memory");
    }

    private void readObject(ObjectInputStream in) throws NotSerializableException {
        throw new NotSerializableException("an XPFO key never leaves secret memory");
    }

    /**
     * Owns the {@code EVP_PKEY} and the templates holding references to it: the cleaning action of both
     * {@link #destroy()} and the Cleaner.
     */
    private static final class Owner implements Runnable {
        private final ContextTemplates templates;
        private MemorySegment pkey;

        Owner(MemorySegment pkey, ContextTemplates templates) {
            this.pkey = pkey;
            this.templates = templates;
        }

        synchronized MemorySegment newReference() {
            if (pkey == null) {
                throw new IllegalStateException("the XPFO key was destroyed");
            }
            if (LibCrypto.evpPkeyUpRef(pkey) != 1) {
                throw OpenSslErrors.failure("EVP_PKEY_up_ref", "taking a reference to the key");
            }
            return pkey;
        }

        synchronized boolean isFreed() {
            return pkey == null;
        }

        /**
         * Templates first (their references to the key), then the key's own reference. Not under this
         * monitor: a template being created holds the templates' lock and asks for a reference here.
         */
        @Override
        public void run() {
            templates.close();
            release();
        }

        private synchronized void release() {
            if (pkey != null) {
                LibCrypto.evpPkeyFree(pkey);
                pkey = null;
            }
        }
    }
}
