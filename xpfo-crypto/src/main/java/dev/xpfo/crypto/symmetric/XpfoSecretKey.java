// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.heap.CryptoHeap;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;
import dev.xpfo.secret.Secret;

import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.function.Consumer;

import javax.crypto.SecretKey;
import javax.security.auth.DestroyFailedException;

/**
 * An XPFO secret key ({@code "AES"}, {@code "ChaCha20"}, {@code "HmacSHA256"}, {@code "HmacSHA384"}, {@code "HmacSHA512"}):
 * opaque, its bytes only in libcrypto's heap (secret memory, out of the kernel's direct map), never in
 * a {@code byte[]}. {@link #getEncoded()} and {@link #getFormat()} return {@code null}, so no other
 * provider can take the bytes out; XPFO's {@code Cipher} and {@code Mac} are the only users.
 * {@link #destroy()} wipes and frees them, and with them every copy an XPFO {@code Cipher} or {@code Mac}
 * keyed with this key holds (its key schedule in libcrypto): those engines then refuse to operate until
 * they are initialised with another key. Not serialisable.
 *
 * <p>Keys come from XPFO's {@code KeyGenerator} or from a {@link Secret} ({@link #fromSecret}).
 * Equality is identity: two keys with the same bytes are different keys.
 */
public final class XpfoSecretKey implements SecretKey {
    @Serial
    private static final long serialVersionUID = 1L;
    private static final Set<String> ALGORITHMS = Set.of("AES", "ChaCha20", "HmacSHA256", "HmacSHA384", "HmacSHA512");

    private final String algorithm;
    private final transient CryptoBuffer material;
    /** The engines holding a copy of the key (held weakly): told by {@link #destroy()} to wipe it. */
    private final transient Set<Consumer<XpfoSecretKey>> holders = Collections.newSetFromMap(new WeakHashMap<>());

    private XpfoSecretKey(String algorithm, CryptoBuffer material) {
        this.algorithm = algorithm;
        this.material = material;
    }

    /** A new key of {@code bytes} random bytes from libcrypto's private DRBG ({@code RAND_priv_bytes}), written straight into libcrypto's heap. */
    static XpfoSecretKey generate(String algorithm, int bytes) {
        CryptoHeap.ensureInstalled(); // refuses if libcrypto's secure heap (direct map) came up since installing
        CryptoBuffer material = CryptoBuffer.allocate(bytes);
        if (LibCrypto.randPrivBytes(material.segment(), bytes) != 1) {
            material.close();
            throw OpenSslErrors.failure("RAND_priv_bytes", "could not draw " + bytes + " random bytes for an " + algorithm + " key");
        }
        return new XpfoSecretKey(checkedAlgorithm(algorithm, bytes), material);
    }

    /**
     * A key holding a copy of {@code secret}'s bytes, copied from secret memory to libcrypto's heap
     * without passing through the Java heap. {@code secret} stays the caller's (close it if it is
     * no longer needed). AES keys must be 16, 24 or 32 bytes, ChaCha20 keys 32; HMAC keys at least one byte.
     *
     * @throws IllegalArgumentException for another algorithm or an AES or ChaCha20 key of another size
     * @throws IllegalStateException if {@code secret} is destroyed
     * @throws dev.xpfo.crypto.CryptoHeapException if libcrypto's secret-memory heap cannot be installed
     */
    public static XpfoSecretKey fromSecret(Secret secret, String algorithm) {
        Objects.requireNonNull(secret, "secret");
        checkedAlgorithm(algorithm, secret.size());
        // Callable before any XpfoProvider exists: libcrypto's first allocation must find its heap installed.
        CryptoHeap.ensureInstalled();
        CryptoBuffer material = CryptoBuffer.allocate(secret.size());
        try {
            secret.readOnly(view -> material.segment().copyFrom(view));
        } catch (RuntimeException e) {
            material.close();
            throw e;
        }
        return new XpfoSecretKey(algorithm, material);
    }

    /**
     * TEST ONLY (package-private): a key from bytes the caller already has in the Java heap, for
     * known-answer vectors and interoperability tests. Production keys come from the generator or a
     * {@link Secret}: a key that once was a {@code byte[]} has lost the protection.
     */
    static XpfoSecretKey importForTest(String algorithm, byte[] bytes) {
        checkedAlgorithm(algorithm, bytes.length);
        CryptoBuffer material = CryptoBuffer.allocate(bytes.length);
        material.segment().copyFrom(MemorySegment.ofArray(bytes));
        return new XpfoSecretKey(algorithm, material);
    }

    private static String checkedAlgorithm(String algorithm, int bytes) {
        if (!ALGORITHMS.contains(algorithm)) {
            throw new IllegalArgumentException("XPFO secret keys are one of " + ALGORITHMS + ", not " + algorithm);
        }
        if (algorithm.equals("AES") && bytes != 16 && bytes != 24 && bytes != 32) {
            throw new IllegalArgumentException("an AES key is 16, 24 or 32 bytes, not " + bytes);
        }
        if (algorithm.equals("ChaCha20") && bytes != 32) {
            throw new IllegalArgumentException("a ChaCha20 key is 32 bytes, not " + bytes);
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("a key needs at least one byte");
        }
        return algorithm;
    }

    /**
     * Lends the key's bytes to {@code user} (XPFO's ciphers and MACs, which hand them to libcrypto),
     * holding off {@link #destroy()} meanwhile, and registers {@code onDestroy} (held weakly: the
     * engine keeps it reachable) to be told when the key is destroyed, so that the engine wipes the
     * copy it made. Lending and registering happen under one lock: a key is either destroyed before
     * the engine copies it (then this throws) or the engine is told afterwards.
     *
     * @throws IllegalStateException if the key is destroyed
     */
    synchronized void use(Consumer<XpfoSecretKey> onDestroy, Consumer<MemorySegment> user) {
        if (material.isClosed()) {
            throw new IllegalStateException("the " + algorithm + " key has been destroyed");
        }
        try {
            holders.add(onDestroy);
            user.accept(material.segment());
        } finally {
            Reference.reachabilityFence(material);
        }
    }

    /** The key's length in bytes. */
    int length() {
        return (int) material.size();
    }

    @Override
    public String getAlgorithm() {
        return algorithm;
    }

    /** Always {@code null}: the key has no encoding outside secret memory. */
    @Override
    public String getFormat() {
        return null;
    }

    /** Always {@code null}: the key's bytes never leave secret memory. */
    @Override
    public byte[] getEncoded() {
        return null;
    }

    /**
     * Wipes and frees the key's bytes, then tells every XPFO engine keyed with it to wipe its copy (an
     * engine in the middle of an operation on another thread finishes that call first); later uses of
     * the key, and of those engines until they are initialised again, fail. Idempotent.
     */
    @Override
    public void destroy() throws DestroyFailedException {
        List<Consumer<XpfoSecretKey>> told;
        synchronized (this) {
            material.close();
            told = List.copyOf(holders);
            holders.clear();
        }
        // Outside the key's lock: an engine takes its own lock, and holds it while it calls use().
        for (Consumer<XpfoSecretKey> holder : told) {
            holder.accept(this);
        }
    }

    @Override
    public synchronized boolean isDestroyed() {
        return material.isClosed();
    }

    @Override
    public String toString() {
        return "XpfoSecretKey[" + algorithm + ", " + material.size() * 8 + " bits" + (material.isClosed() ? ", destroyed" : "") + "]";
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws NotSerializableException {
        throw new NotSerializableException("an XPFO key never leaves secret memory");
    }

    @Serial
    private void readObject(ObjectInputStream in) throws NotSerializableException {
        throw new NotSerializableException("an XPFO key never leaves secret memory");
    }
}
