// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.AlgorithmParameters;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.InvalidParameterSpecException;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.CipherSpi;
import javax.crypto.NoSuchPaddingException;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code Cipher} "AES/GCM/NoPadding" (AES-128/192/256) and "ChaCha20-Poly1305" through libcrypto's
 * EVP, keyed only by {@link XpfoSecretKey}s ({@code "AES"}, resp. {@code "ChaCha20"}); any other key is
 * refused with {@link InvalidKeyException}. Behaves like the JDK's: encryption appends the tag to the
 * ciphertext; GCM takes a {@link GCMParameterSpec} (tag 96-128 bits), ChaCha20-Poly1305 an
 * {@link IvParameterSpec} of 12 bytes (tag 128 bits); encryption without parameters draws a random
 * 12-byte IV ({@link #engineGetIV}); encrypting twice with the same key and IV is refused
 * ({@link InvalidAlgorithmParameterException}), and after {@code doFinal} an encrypting cipher must
 * be initialised again.
 *
 * <p>Decryption releases nothing before the tag is verified: libcrypto's {@code EVP_DecryptUpdate}
 * hands out plaintext before {@code EVP_DecryptFinal_ex} checks the tag, so {@code update} only
 * buffers the ciphertext (and returns nothing), and {@code doFinal} decrypts into a buffer in
 * libcrypto's heap that is copied out only once the tag matched, and wiped otherwise
 * ({@link AEADBadTagException}).
 */
public final class XpfoAeadCipher extends CipherSpi {
    private static final Map<String, MemorySegment> FETCHED = new ConcurrentHashMap<>();
    private static final int DEFAULT_IV_BYTES = 12;
    private static final int FULL_TAG_BYTES = 16;
    /** Encryption's plaintext goes through the work buffer in pieces of at most this size. */
    private static final int CHUNK_BYTES = 64 * 1024;
    private static final int MIN_WORK_BYTES = 4096;

    /** The two AEADs: their JCA name, the key algorithm they take, and their libcrypto name by key size. */
    enum Aead {
        AES_GCM("AES/GCM/NoPadding", "AES"),
        CHACHA20_POLY1305("ChaCha20-Poly1305", "ChaCha20");

        final String jcaName;
        final String keyAlgorithm;

        Aead(String jcaName, String keyAlgorithm) {
            this.jcaName = jcaName;
            this.keyAlgorithm = keyAlgorithm;
        }

        String libcryptoName(int keyBytes) {
            return this == AES_GCM ? "AES-" + keyBytes * 8 + "-GCM" : "ChaCha20-Poly1305";
        }
    }

    private final Aead aead;
    private final Context context;
    private final SecureRandom ivSource = new SecureRandom();

    private boolean initialised;
    private boolean encrypting;
    private XpfoSecretKey key;
    private byte[] iv;
    private int tagBytes;
    private boolean dataStarted;
    /** An encrypting cipher after doFinal: the same key and IV must not encrypt again. */
    private boolean needsNewIv;
    private XpfoSecretKey lastEncryptionKey;
    private byte[] lastEncryptionIv;
    /** The context's key, direction and IV length: an init that changes only the IV does not re-key. */
    private XpfoSecretKey keyedWith;
    private boolean keyedToEncrypt;
    private int keyedIvBytes;
    /** Where plaintext is handled (libcrypto's heap; wiped after each use); grows as needed. */
    private CryptoBuffer work;
    /** Per-instance native scratch for EVP's {@code int *outl} and a tag to check. */
    private final MemorySegment written = Arena.ofAuto().allocate(JAVA_INT);
    private final MemorySegment tagSegment = Arena.ofAuto().allocate(FULL_TAG_BYTES);
    /** Decryption's ciphertext (public), held back until doFinal can check the tag. */
    private final ByteArrayOutputStream ciphertext = new ByteArrayOutputStream();

    XpfoAeadCipher(Aead aead) {
        this.aead = aead;
        MemorySegment ctx = LibCrypto.evpCipherCtxNew();
        if (ctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_CIPHER_CTX_new", "could not create a cipher context");
        }
        this.context = new Context(ctx.address());
        CryptoBuffer.CLEANER.register(this, context);
    }

    private static MemorySegment fetch(String name) {
        return FETCHED.computeIfAbsent(name, n -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment cipher = LibCrypto.evpCipherFetch(MemorySegment.NULL, arena.allocateFrom(n), MemorySegment.NULL);
                if (cipher.equals(MemorySegment.NULL)) {
                    throw OpenSslErrors.failure("EVP_CIPHER_fetch", "libcrypto has no " + n);
                }
                return cipher;
            }
        });
    }

    @Override
    protected void engineSetMode(String mode) throws NoSuchAlgorithmException {
        if (!(aead == Aead.AES_GCM && mode.equalsIgnoreCase("GCM"))) {
            throw new NoSuchAlgorithmException(aead.jcaName + " has no mode " + mode);
        }
    }

    @Override
    protected void engineSetPadding(String padding) throws NoSuchPaddingException {
        if (!padding.equalsIgnoreCase("NoPadding")) {
            throw new NoSuchPaddingException(aead.jcaName + " has no padding " + padding);
        }
    }

    @Override
    protected int engineGetBlockSize() {
        return aead == Aead.AES_GCM ? 16 : 0;
    }

    @Override
    protected int engineGetOutputSize(int inputLen) {
        if (encrypting) {
            return Math.addExact(inputLen, tagBytes);
        }
        return Math.max(0, ciphertext.size() + inputLen - tagBytes);
    }

    @Override
    protected byte[] engineGetIV() {
        return iv == null ? null : iv.clone();
    }

    @Override
    protected AlgorithmParameters engineGetParameters() {
        if (iv == null) {
            return null;
        }
        try {
            AlgorithmParameters parameters;
            if (aead == Aead.AES_GCM) {
                parameters = AlgorithmParameters.getInstance("GCM");
                parameters.init(new GCMParameterSpec(tagBytes * 8, iv));
            } else {
                parameters = AlgorithmParameters.getInstance("ChaCha20-Poly1305");
                parameters.init(new IvParameterSpec(iv));
            }
            return parameters;
        } catch (NoSuchAlgorithmException | InvalidParameterSpecException e) {
            throw new IllegalStateException("the JDK cannot represent " + aead.jcaName + "'s parameters", e);
        }
    }

    @Override
    protected int engineGetKeySize(Key key) throws InvalidKeyException {
        return xpfoKey(key).length() * 8;
    }

    @Override
    protected void engineInit(int opmode, Key key, SecureRandom random) throws InvalidKeyException {
        try {
            engineInit(opmode, key, (AlgorithmParameterSpec) null, random);
        } catch (InvalidAlgorithmParameterException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
    }

    @Override
    protected void engineInit(int opmode, Key key, AlgorithmParameters params, SecureRandom random)
            throws InvalidKeyException, InvalidAlgorithmParameterException {
        AlgorithmParameterSpec spec = null;
        if (params != null) {
            try {
                spec = aead == Aead.AES_GCM
                        ? params.getParameterSpec(GCMParameterSpec.class)
                        : params.getParameterSpec(IvParameterSpec.class);
            } catch (InvalidParameterSpecException e) {
                throw new InvalidAlgorithmParameterException(aead.jcaName + " cannot use parameters " + params, e);
            }
        }
        engineInit(opmode, key, spec, random);
    }

    @Override
    protected void engineInit(int opmode, Key key, AlgorithmParameterSpec params, SecureRandom random)
            throws InvalidKeyException, InvalidAlgorithmParameterException {
        if (opmode != Cipher.ENCRYPT_MODE && opmode != Cipher.DECRYPT_MODE) {
            throw new UnsupportedOperationException(aead.jcaName + " in XPFO encrypts and decrypts only (no key wrapping)");
        }
        XpfoSecretKey newKey = xpfoKey(key);
        boolean encrypt = opmode == Cipher.ENCRYPT_MODE;
        byte[] newIv;
        int newTagBytes;
        if (params == null) {
            if (!encrypt) {
                throw new InvalidAlgorithmParameterException(aead.jcaName + " decryption needs the IV and tag length its encryption used");
            }
            newIv = new byte[DEFAULT_IV_BYTES];
            ivSource.nextBytes(newIv);
            newTagBytes = FULL_TAG_BYTES;
        } else if (aead == Aead.AES_GCM && params instanceof GCMParameterSpec gcm) {
            int tagBits = gcm.getTLen();
            if (tagBits < 96 || tagBits > 128 || tagBits % 8 != 0) {
                throw new InvalidAlgorithmParameterException("a GCM tag is 96, 104, 112, 120 or 128 bits, not " + tagBits);
            }
            newIv = gcm.getIV();
            if (newIv.length == 0) {
                throw new InvalidAlgorithmParameterException("a GCM IV has at least one byte");
            }
            newTagBytes = tagBits / 8;
        } else if (aead == Aead.CHACHA20_POLY1305 && params instanceof IvParameterSpec nonce) {
            newIv = nonce.getIV();
            if (newIv.length != DEFAULT_IV_BYTES) {
                throw new InvalidAlgorithmParameterException("a ChaCha20-Poly1305 nonce is 12 bytes, not " + newIv.length);
            }
            newTagBytes = FULL_TAG_BYTES;
        } else {
            throw new InvalidAlgorithmParameterException(aead.jcaName + " takes a "
                    + (aead == Aead.AES_GCM ? "GCMParameterSpec" : "IvParameterSpec") + ", not " + params.getClass().getName());
        }
        if (encrypt && newKey == lastEncryptionKey && Arrays.equals(newIv, lastEncryptionIv)) {
            throw new InvalidAlgorithmParameterException(aead == Aead.AES_GCM
                    ? "Cannot reuse iv for GCM encryption"
                    : "Matching key and nonce from previous initialization");
        }
        initialised = false;
        this.encrypting = encrypt;
        this.iv = newIv;
        if (newKey == keyedWith && encrypt == keyedToEncrypt && newIv.length == keyedIvBytes) {
            restart(); // same key schedule: only the IV changes (EVP_*Init_ex2 with NULL cipher and key)
        } else {
            keyedWith = null;
            keyContext(encrypt, newKey, newIv);
            keyedWith = newKey;
            keyedToEncrypt = encrypt;
            keyedIvBytes = newIv.length;
        }
        this.key = newKey;
        this.tagBytes = newTagBytes;
        if (encrypt) {
            lastEncryptionKey = newKey;
            lastEncryptionIv = newIv.clone();
        }
        ciphertext.reset();
        dataStarted = false;
        needsNewIv = false;
        initialised = true;
    }

    private XpfoSecretKey xpfoKey(Key key) throws InvalidKeyException {
        if (!(key instanceof XpfoSecretKey xpfo)) {
            throw new InvalidKeyException("XPFO's " + aead.jcaName + " takes only XPFO secret keys (from XPFO's KeyGenerator), not "
                    + (key == null ? "null" : key.getClass().getName()));
        }
        if (!xpfo.getAlgorithm().equals(aead.keyAlgorithm)) {
            throw new InvalidKeyException(aead.jcaName + " needs an " + aead.keyAlgorithm + " key, not " + xpfo.getAlgorithm());
        }
        if (xpfo.isDestroyed()) {
            throw new InvalidKeyException("the " + xpfo.getAlgorithm() + " key has been destroyed");
        }
        return xpfo;
    }

    /** Sets cipher, IV length, key and IV on the context: the key's bytes go from libcrypto's heap to libcrypto. */
    private void keyContext(boolean encrypt, XpfoSecretKey newKey, byte[] newIv) throws InvalidKeyException {
        MemorySegment cipher = fetch(aead.libcryptoName(newKey.length()));
        String init = encrypt ? "EVP_EncryptInit_ex2" : "EVP_DecryptInit_ex2";
        if (initCall(encrypt, cipher, MemorySegment.NULL, MemorySegment.NULL) != 1) {
            throw OpenSslErrors.failure(init, "could not set up " + aead.jcaName);
        }
        if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_SET_IVLEN, newIv.length, MemorySegment.NULL) != 1) {
            throw OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl", aead.jcaName + " refused an IV of " + newIv.length + " bytes");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ivSegment = arena.allocateFrom(JAVA_BYTE, newIv);
            int[] result = new int[1];
            newKey.use(bytes -> result[0] = initCall(encrypt, MemorySegment.NULL, bytes, ivSegment));
            if (result[0] != 1) {
                throw OpenSslErrors.failure(init, "could not key " + aead.jcaName);
            }
        } catch (IllegalStateException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
    }

    private int initCall(boolean encrypt, MemorySegment cipher, MemorySegment keyBytes, MemorySegment ivBytes) {
        return encrypt
                ? LibCrypto.evpEncryptInitEx2(ctx(), cipher, keyBytes, ivBytes, MemorySegment.NULL)
                : LibCrypto.evpDecryptInitEx2(ctx(), cipher, keyBytes, ivBytes, MemorySegment.NULL);
    }

    /** Back to the state right after init (same key and IV): what the JDK does after a decryption. */
    private void restart() {
        ciphertext.reset();
        dataStarted = false;
        try (Arena arena = Arena.ofConfined()) {
            if (initCall(encrypting, MemorySegment.NULL, MemorySegment.NULL, arena.allocateFrom(JAVA_BYTE, iv)) != 1) {
                throw OpenSslErrors.failure(encrypting ? "EVP_EncryptInit_ex2" : "EVP_DecryptInit_ex2", "could not restart " + aead.jcaName);
            }
        }
    }

    private void requireReady() {
        if (!initialised) {
            throw new IllegalStateException(aead.jcaName + " is not initialised");
        }
        if (needsNewIv) {
            throw new IllegalStateException(aead == Aead.AES_GCM
                    ? "Must use either different key or iv for GCM encryption"
                    : "Cipher must be re-initialized with a different key or nonce after encryption");
        }
    }

    @Override
    protected void engineUpdateAAD(byte[] src, int offset, int len) {
        requireReady();
        if (dataStarted) {
            throw new IllegalStateException("AAD must be supplied before encryption/decryption starts");
        }
        if (len == 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment aad = arena.allocate(len);
            MemorySegment.copy(src, offset, aad, JAVA_BYTE, 0, len);
            MemorySegment written = arena.allocate(JAVA_INT);
            int result = encrypting
                    ? LibCrypto.evpEncryptUpdate(ctx(), MemorySegment.NULL, written, aad, len)
                    : LibCrypto.evpDecryptUpdate(ctx(), MemorySegment.NULL, written, aad, len);
            if (result != 1) {
                throw OpenSslErrors.failure(encrypting ? "EVP_EncryptUpdate" : "EVP_DecryptUpdate", "could not take the AAD");
            }
        }
    }

    @Override
    protected byte[] engineUpdate(byte[] input, int offset, int len) {
        requireReady();
        if (!encrypting) {
            buffer(input, offset, len);
            return new byte[0];
        }
        return encrypt(input, offset, len, false);
    }

    @Override
    protected int engineUpdate(byte[] input, int offset, int len, byte[] output, int outputOffset) throws ShortBufferException {
        requireReady();
        if (!encrypting) {
            buffer(input, offset, len);
            return 0;
        }
        checkRoom(len, output, outputOffset);
        byte[] out = encrypt(input, offset, len, false);
        System.arraycopy(out, 0, output, outputOffset, out.length);
        return out.length;
    }

    @Override
    protected byte[] engineDoFinal(byte[] input, int offset, int len) throws AEADBadTagException {
        requireReady();
        if (encrypting) {
            return encrypt(input, offset, len, true);
        }
        buffer(input, offset, len);
        return decrypt();
    }

    @Override
    protected int engineDoFinal(byte[] input, int offset, int len, byte[] output, int outputOffset)
            throws ShortBufferException, AEADBadTagException {
        requireReady();
        checkRoom(engineGetOutputSize(len), output, outputOffset);
        byte[] out = engineDoFinal(input, offset, len);
        try {
            System.arraycopy(out, 0, output, outputOffset, out.length);
            return out.length;
        } finally {
            if (!encrypting) {
                Arrays.fill(out, (byte) 0);
            }
        }
    }

    private static void checkRoom(int needed, byte[] output, int outputOffset) throws ShortBufferException {
        if (output == null || output.length - outputOffset < needed) {
            throw new ShortBufferException("the output needs " + needed + " bytes");
        }
    }

    private void buffer(byte[] input, int offset, int len) {
        if (input != null && len > 0) {
            ciphertext.write(input, offset, len);
            dataStarted = true;
        }
    }

    /**
     * Encrypts; on {@code last}, appends the tag and requires a new IV before the next encryption. The
     * plaintext is copied, a chunk at a time, into the work buffer in libcrypto's heap and encrypted
     * there in place (which EVP allows), so no plaintext lingers in ordinary native memory.
     */
    private byte[] encrypt(byte[] input, int offset, int len, boolean last) {
        int length = input == null ? 0 : len;
        byte[] result = new byte[length + (last ? tagBytes : 0)];
        int produced = 0;
        if (length > 0) {
            dataStarted = true;
        }
        for (int done = 0; done < length; done += CHUNK_BYTES) {
            int chunk = Math.min(CHUNK_BYTES, length - done);
            MemorySegment work = work(chunk);
            MemorySegment.copy(input, offset + done, work, JAVA_BYTE, 0, chunk);
            try {
                if (LibCrypto.evpEncryptUpdate(ctx(), work, written, work, chunk) != 1) {
                    throw OpenSslErrors.failure("EVP_EncryptUpdate", aead.jcaName);
                }
                int out = written.get(JAVA_INT, 0);
                MemorySegment.copy(work, JAVA_BYTE, 0, result, produced, out);
                produced += out;
            } finally {
                work.asSlice(0, chunk).fill((byte) 0);
            }
        }
        if (last) {
            MemorySegment work = work(FULL_TAG_BYTES);
            if (LibCrypto.evpEncryptFinalEx(ctx(), work, written) != 1) {
                throw OpenSslErrors.failure("EVP_EncryptFinal_ex", aead.jcaName);
            }
            if (written.get(JAVA_INT, 0) != 0) {
                throw new IllegalStateException(aead.jcaName + " produced " + written.get(JAVA_INT, 0) + " bytes at the end, expected none");
            }
            if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_GET_TAG, tagBytes, work) != 1) {
                throw OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl", "could not read " + aead.jcaName + "'s tag");
            }
            MemorySegment.copy(work, JAVA_BYTE, 0, result, produced, tagBytes);
            produced += tagBytes;
            needsNewIv = true;
        }
        if (produced != result.length) {
            throw new IllegalStateException(aead.jcaName + " produced " + produced + " bytes, expected " + result.length);
        }
        return result;
    }

    /**
     * Decrypts everything buffered, in place in the work buffer in libcrypto's heap, checks the tag, and
     * only then copies the plaintext out; either way the work buffer is wiped, and on a mismatch
     * {@link AEADBadTagException} is thrown. The cipher is then back at its initial state (same key and
     * IV), as the JDK's is.
     */
    private byte[] decrypt() throws AEADBadTagException {
        byte[] all = ciphertext.toByteArray();
        try {
            if (all.length < tagBytes) {
                throw new AEADBadTagException("Input data too short to contain an expected tag length of " + tagBytes + " bytes");
            }
            int length = all.length - tagBytes;
            MemorySegment work = work(Math.max(length, tagBytes));
            try {
                int produced = 0;
                if (length > 0) {
                    MemorySegment.copy(all, 0, work, JAVA_BYTE, 0, length);
                    if (LibCrypto.evpDecryptUpdate(ctx(), work, written, work, length) != 1) {
                        throw OpenSslErrors.failure("EVP_DecryptUpdate", aead.jcaName);
                    }
                    produced = written.get(JAVA_INT, 0);
                }
                MemorySegment.copy(all, length, tagSegment, JAVA_BYTE, 0, tagBytes);
                if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_SET_TAG, tagBytes, tagSegment) != 1) {
                    throw OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl", "could not set " + aead.jcaName + "'s tag");
                }
                if (LibCrypto.evpDecryptFinalEx(ctx(), work.asSlice(produced), written) != 1) {
                    OpenSslErrors.drain();
                    throw new AEADBadTagException("Tag mismatch");
                }
                produced += written.get(JAVA_INT, 0);
                return work.asSlice(0, produced).toArray(JAVA_BYTE);
            } finally {
                work.asSlice(0, Math.max(length, tagBytes)).fill((byte) 0);
            }
        } finally {
            restart();
        }
    }

    /** The work buffer as it is now, or {@code null} before the first use: for tests that check it is wiped. */
    MemorySegment workBuffer() {
        return work == null ? null : work.segment();
    }

    /** The work buffer in libcrypto's heap, at least {@code bytes} long (grown by replacing it, the old one wiped). */
    private MemorySegment work(int bytes) {
        if (work == null || work.size() < bytes) {
            if (work != null) {
                work.close();
            }
            work = CryptoBuffer.allocate(Math.max(bytes, MIN_WORK_BYTES));
        }
        return work.segment();
    }

    private MemorySegment ctx() {
        return MemorySegment.ofAddress(context.address);
    }

    @Override
    public String toString() {
        return "XpfoAeadCipher[" + aead.jcaName + (key == null ? "" : ", " + key) + "]";
    }

    /** Frees the EVP_CIPHER_CTX (which wipes its key schedule) when the Cipher becomes unreachable. */
    private record Context(long address) implements Runnable {
        @Override
        public void run() {
            LibCrypto.evpCipherCtxFree(MemorySegment.ofAddress(address));
        }
    }
}
