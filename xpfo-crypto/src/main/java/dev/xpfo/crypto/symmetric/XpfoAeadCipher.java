// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import dev.xpfo.crypto.OpenSslException;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.security.AlgorithmParameters;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.KeyException;
import java.security.NoSuchAlgorithmException;
import java.security.ProviderException;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.InvalidParameterSpecException;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

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
 * buffers the ciphertext (public: in the Java heap, and returns nothing), and {@code doFinal} decrypts
 * straight into the caller's output (array or buffer), checks the tag, and on a mismatch zeroes that
 * output before throwing {@link AEADBadTagException}, as the JDK's GCM does: a caller never gets
 * unauthenticated plaintext back. (Another thread reading the output array while {@code doFinal} runs
 * could see it, as it could see the plaintext after a success: an output is the caller's to share.)
 * Decrypting in place (the output over the input) works; after a bad tag that region is zeroed, so the
 * ciphertext there is gone too. The plaintext never passes through libcrypto's secret-memory heap, whose
 * use therefore does not grow with the message (the memlock limit bounds that heap, not the message).
 *
 * <p>Speed: encryption hands the caller's arrays or buffers to {@code EVP_EncryptUpdate} directly (a
 * critical downcall, see {@link LibCrypto#evpEncryptUpdateCritical}: plaintext that is already in the
 * Java heap is not copied anywhere else first), and decryption reads the ciphertext where it is. The
 * context, the fetched cipher and the native scratch are reused: re-initialising with the same key only
 * sets the IV. GCM encrypts at most 2^36-32 bytes under one IV ({@link IllegalStateException} beyond);
 * ChaCha20-Poly1305 at most 2^32-1 blocks of 64 bytes (RFC 8439; libcrypto would let its 32-bit block
 * counter wrap and reuse key stream): beyond, {@link java.security.ProviderException} caused by a
 * {@link java.security.KeyException} "Counter exhausted", as the JDK's. GCM IVs are 1 to
 * 128 bytes ({@code MAX_GCM_IV_BYTES}, libcrypto's limit; the JDK takes longer ones).
 *
 * <p>Key destruction: {@link XpfoSecretKey#destroy()} makes the cipher wipe its key schedule (the
 * context is reset, waiting for a call on another thread to finish first), and every later operation
 * throws {@link IllegalStateException} until {@code init} with a live key.
 */
public final class XpfoAeadCipher extends CipherSpi {
    private static final Map<String, MemorySegment> FETCHED = new ConcurrentHashMap<>();
    private static final int DEFAULT_IV_BYTES = 12;
    private static final int FULL_TAG_BYTES = 16;
    /** GCM's limit on the plaintext under one IV (SP 800-38D), which libcrypto enforces with an error. */
    private static final long GCM_MAX_BYTES = (1L << 36) - 32;
    /** ChaCha20-Poly1305's limit on the data under one nonce (RFC 8439 section 2.8): 2^32-1 blocks of 64 bytes. */
    static final long CHACHA20_POLY1305_MAX_BYTES = ((1L << 32) - 1) * 64;
    /** The longest GCM IV libcrypto's provider takes (GCM_IV_MAX_SIZE, 1024 bits); EVP_CTRL_AEAD_SET_IVLEN fails beyond. */
    static final int MAX_GCM_IV_BYTES = 128;

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
    /** The context's address as a segment, made once (valid while this cipher is reachable: fence it). */
    private final MemorySegment ctx;
    /** Serialises the operations with {@link #keyDestroyed}, which another thread may call. */
    private final Object guard = new Object();
    /** Registered with each key this cipher copies (weakly held there; this field keeps it alive). */
    private final Consumer<XpfoSecretKey> onKeyDestroyed = this::keyDestroyed;
    /** The key destroyed under this cipher since its last init, or null. */
    private XpfoSecretKey destroyedKey;
    /** Bytes encrypted or decrypted under the current IV (GCM's and ChaCha20-Poly1305's limits). */
    private long messageBytes;
    /** ChaCha20-Poly1305's limit per nonce: {@link #CHACHA20_POLY1305_MAX_BYTES}, lowered only by tests. */
    private long chachaMaxBytes = CHACHA20_POLY1305_MAX_BYTES;
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
    /** Per-instance native scratch (all public values): EVP's {@code int *outl}, a tag, the IV, EVP_DecryptFinal_ex's (empty) output. */
    private final MemorySegment written = Arena.ofAuto().allocate(JAVA_INT);
    private final MemorySegment tagSegment = Arena.ofAuto().allocate(FULL_TAG_BYTES);
    private final MemorySegment finalOut = Arena.ofAuto().allocate(FULL_TAG_BYTES);
    private MemorySegment ivStore = Arena.ofAuto().allocate(DEFAULT_IV_BYTES);
    private MemorySegment ivSlice = ivStore;
    /** Decryption's ciphertext (public), held back until doFinal can check the tag. */
    private final ByteArrayOutputStream ciphertext = new ByteArrayOutputStream();

    XpfoAeadCipher(Aead aead) {
        this.aead = aead;
        MemorySegment ctx = LibCrypto.evpCipherCtxNew();
        if (ctx.equals(MemorySegment.NULL)) {
            throw OpenSslErrors.failure("EVP_CIPHER_CTX_new", "could not create a cipher context");
        }
        this.context = new Context(ctx.address());
        this.ctx = ctx;
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
        synchronized (guard) {
            try {
                init(opmode, key, params);
            } catch (OpenSslException e) {
                // the JCA declares init's failures checked: libcrypto refusing the set-up is one of them
                throw new InvalidKeyException(aead.jcaName + " could not be set up in libcrypto: " + e.getMessage(), e);
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    private void init(int opmode, Key key, AlgorithmParameterSpec params) throws InvalidKeyException, InvalidAlgorithmParameterException {
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
            if (newIv.length == 0 || newIv.length > MAX_GCM_IV_BYTES) {
                throw new InvalidAlgorithmParameterException("XPFO's GCM takes an IV of 1 to " + MAX_GCM_IV_BYTES
                        + " bytes (libcrypto's limit), not " + newIv.length);
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
            lastEncryptionIv = newIv; // a copy already (getIV clones), never changed: iv is handed out cloned
        }
        ciphertext.reset();
        dataStarted = false;
        needsNewIv = false;
        destroyedKey = null;
        messageBytes = 0;
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
    private void keyContext(boolean encrypt, XpfoSecretKey newKey, byte[] newIv) throws InvalidKeyException, InvalidAlgorithmParameterException {
        MemorySegment cipher = fetch(aead.libcryptoName(newKey.length()));
        String init = encrypt ? "EVP_EncryptInit_ex2" : "EVP_DecryptInit_ex2";
        if (initCall(encrypt, cipher, MemorySegment.NULL, MemorySegment.NULL) != 1) {
            throw OpenSslErrors.failure(init, "could not set up " + aead.jcaName);
        }
        if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_SET_IVLEN, newIv.length, MemorySegment.NULL) != 1) {
            // checked, as the JCA declares: an IV libcrypto will not take is a parameter problem
            throw new InvalidAlgorithmParameterException(OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl",
                    aead.jcaName + " refused an IV of " + newIv.length + " bytes").getMessage());
        }
        MemorySegment ivBytes = ivSegment(newIv);
        int[] result = new int[1];
        try {
            newKey.use(onKeyDestroyed, bytes -> result[0] = initCall(encrypt, MemorySegment.NULL, bytes, ivBytes));
        } catch (IllegalStateException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
        if (result[0] != 1) {
            throw OpenSslErrors.failure(init, "could not key " + aead.jcaName);
        }
    }

    /** {@code iv} in the native IV scratch (public bytes), grown if an IV is longer than any before. */
    private MemorySegment ivSegment(byte[] iv) {
        if (ivSlice.byteSize() != iv.length) {
            if (ivStore.byteSize() < iv.length) {
                ivStore = Arena.ofAuto().allocate(iv.length);
            }
            ivSlice = ivStore.asSlice(0, iv.length);
        }
        MemorySegment.copy(iv, 0, ivSlice, JAVA_BYTE, 0, iv.length);
        return ivSlice;
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
        messageBytes = 0;
        if (initCall(encrypting, MemorySegment.NULL, MemorySegment.NULL, ivSegment(iv)) != 1) {
            throw OpenSslErrors.failure(encrypting ? "EVP_EncryptInit_ex2" : "EVP_DecryptInit_ex2", "could not restart " + aead.jcaName);
        }
    }

    private void requireReady() {
        if (destroyedKey != null) {
            throw new IllegalStateException(aead.jcaName + " was initialised with an " + destroyedKey.getAlgorithm()
                    + " key that has since been destroyed: its key schedule is wiped; initialise the cipher with a live key");
        }
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
        engineUpdateAAD(heap(src, offset, len));
    }

    @Override
    protected void engineUpdateAAD(ByteBuffer src) {
        int len = src.remaining();
        engineUpdateAAD(MemorySegment.ofBuffer(src));
        src.position(src.position() + len);
    }

    /** Feeds AAD (public) from where it is, heap or native: EVP's update with a NULL output, a critical call. */
    private void engineUpdateAAD(MemorySegment aad) {
        synchronized (guard) {
            try {
                requireReady();
                if (dataStarted) {
                    throw new IllegalStateException("AAD must be supplied before encryption/decryption starts");
                }
                for (long done = 0; done < aad.byteSize(); done += CriticalChunks.MAX_BYTES) {
                    int chunk = CriticalChunks.length(aad.byteSize(), done);
                    int result = encrypting
                            ? LibCrypto.evpEncryptUpdateCritical(ctx(), MemorySegment.NULL, written, CriticalChunks.slice(aad, done, chunk), chunk)
                            : LibCrypto.evpDecryptUpdateCritical(ctx(), MemorySegment.NULL, written, CriticalChunks.slice(aad, done, chunk), chunk);
                    if (result != 1) {
                        throw OpenSslErrors.failure(encrypting ? "EVP_EncryptUpdate" : "EVP_DecryptUpdate", "could not take the AAD");
                    }
                }
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    /** As the overload with an output array, into a new one: as long as the input when encrypting, empty when decrypting. */
    @Override
    protected byte[] engineUpdate(byte[] input, int offset, int len) {
        synchronized (guard) {
            byte[] out = new byte[encrypting && input != null ? len : 0];
            try {
                engineUpdate(input, offset, len, out, 0);
            } catch (ShortBufferException e) {
                throw new IllegalStateException("an output of the input's size was too short", e);
            }
            return out;
        }
    }

    @Override
    protected int engineUpdate(byte[] input, int offset, int len, byte[] output, int outputOffset) throws ShortBufferException {
        synchronized (guard) {
            try {
                requireReady();
                MemorySegment in = heap(input, offset, len);
                if (!encrypting) {
                    buffer(in);
                    return 0;
                }
                int length = (int) in.byteSize(); // len, or 0 for a null input
                checkRoom(length, output, outputOffset);
                return encryptInto(in, heap(output, outputOffset, length));
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    @Override
    protected int engineUpdate(ByteBuffer input, ByteBuffer output) throws ShortBufferException {
        synchronized (guard) {
            try {
                requireReady();
                int len = input.remaining();
                MemorySegment in = MemorySegment.ofBuffer(input);
                if (!encrypting) {
                    buffer(in);
                    input.position(input.limit());
                    return 0;
                }
                MemorySegment out = outputSegment(output, len);
                int produced = encryptInto(in, out.asSlice(0, len));
                input.position(input.limit());
                output.position(output.position() + produced);
                return produced;
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    @Override
    protected byte[] engineDoFinal(byte[] input, int offset, int len) throws AEADBadTagException {
        synchronized (guard) {
            try {
                requireReady();
                MemorySegment in = heap(input, offset, len);
                if (encrypting) {
                    byte[] out = new byte[Math.addExact((int) in.byteSize(), tagBytes)];
                    encryptFinal(in, MemorySegment.ofArray(out));
                    return out;
                }
                byte[] out = new byte[engineGetOutputSize((int) in.byteSize())];
                decryptFinal(in, MemorySegment.ofArray(out));
                return out;
            } catch (ShortBufferException e) {
                throw new IllegalStateException("an output of the computed size was too short", e);
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    @Override
    protected int engineDoFinal(byte[] input, int offset, int len, byte[] output, int outputOffset)
            throws ShortBufferException, AEADBadTagException {
        synchronized (guard) {
            try {
                requireReady();
                MemorySegment in = heap(input, offset, len);
                int needed = engineGetOutputSize((int) in.byteSize());
                checkRoom(needed, output, outputOffset);
                MemorySegment out = heap(output, outputOffset, needed);
                if (encrypting) {
                    return encryptFinal(in, out);
                }
                return decryptFinal(in, out);
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    @Override
    protected int engineDoFinal(ByteBuffer input, ByteBuffer output) throws ShortBufferException, AEADBadTagException {
        synchronized (guard) {
            try {
                requireReady();
                MemorySegment in = MemorySegment.ofBuffer(input);
                int needed = engineGetOutputSize((int) in.byteSize());
                MemorySegment out = outputSegment(output, needed).asSlice(0, needed);
                int produced = encrypting ? encryptFinal(in, out) : decryptFinal(in, out);
                input.position(input.limit());
                output.position(output.position() + produced);
                return produced;
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    private static void checkRoom(int needed, byte[] output, int outputOffset) throws ShortBufferException {
        if (output == null || output.length - outputOffset < needed) {
            throw new ShortBufferException("the output needs " + needed + " bytes");
        }
    }

    /** The output buffer's remaining bytes as a segment (native for a direct buffer, the array for a heap one). */
    private static MemorySegment outputSegment(ByteBuffer output, int needed) throws ShortBufferException {
        if (output.isReadOnly()) {
            throw new ReadOnlyBufferException();
        }
        if (output.remaining() < needed) {
            throw new ShortBufferException("the output needs " + needed + " bytes, it has " + output.remaining());
        }
        return MemorySegment.ofBuffer(output);
    }

    /** Holds back decryption's ciphertext (public) until doFinal can check the tag. */
    private void buffer(MemorySegment input) {
        if (input.byteSize() > 0) {
            ciphertext.writeBytes(input.toArray(JAVA_BYTE));
            dataStarted = true;
        }
    }

    /**
     * {@code in} as libcrypto may read it while writing {@code out}: the same segment when they do not
     * overlap or start at the same byte (EVP works in place; overlapping segments share their base, so
     * equal addresses mean the same start), otherwise a copy (the caller's own bytes,
     * already in the heap): a shifted overlap would read bytes already overwritten.
     */
    private static MemorySegment unaliased(MemorySegment in, MemorySegment out) {
        if (in.byteSize() == 0 || out.byteSize() == 0 || in.asOverlappingSlice(out).isEmpty() || in.address() == out.address()) {
            return in;
        }
        return MemorySegment.ofArray(in.toArray(JAVA_BYTE));
    }

    /**
     * Encrypts {@code in} into {@code out} (as long as {@code in}), both where the caller has them (heap or
     * native): critical calls of at most {@link CriticalChunks#MAX_BYTES}. The checks before the call (initialised,
     * encrypting, IV not used up, GCM's limit) are what keep libcrypto off its error paths, which
     * allocate and so must not run in a critical call.
     */
    private int encryptInto(MemorySegment in, MemorySegment out) {
        long length = in.byteSize();
        if (length == 0) {
            return 0;
        }
        if (aead == Aead.AES_GCM && messageBytes + length > GCM_MAX_BYTES) {
            throw new IllegalStateException("GCM encrypts at most 2^36-32 bytes under one IV");
        }
        requireChachaCounter(length);
        MemorySegment source = unaliased(in, out);
        dataStarted = true;
        for (long done = 0; done < length; done += CriticalChunks.MAX_BYTES) {
            int chunk = CriticalChunks.length(length, done);
            // out may be longer (room for the tag): EVP writes chunk bytes at its start
            MemorySegment to = done == 0 ? out : out.asSlice(done, chunk);
            if (LibCrypto.evpEncryptUpdateCritical(ctx(), to, written, CriticalChunks.slice(source, done, chunk), chunk) != 1) {
                throw OpenSslErrors.failure("EVP_EncryptUpdate", aead.jcaName);
            }
            if (written.get(JAVA_INT, 0) != chunk) {
                throw new IllegalStateException(aead.jcaName + " produced " + written.get(JAVA_INT, 0) + " bytes for " + chunk);
            }
        }
        messageBytes += length;
        return (int) length;
    }

    /** {@code array[offset, offset + length)} as a segment; a null array is empty. */
    private static MemorySegment heap(byte[] array, int offset, int length) {
        if (array == null) {
            return MemorySegment.ofArray(new byte[0]);
        }
        return CriticalChunks.slice(MemorySegment.ofArray(array), offset, length);
    }

    /** Encrypts {@code in} into {@code out}, appends the tag, and requires a new IV before the next encryption. */
    private int encryptFinal(MemorySegment in, MemorySegment out) {
        int produced = encryptInto(in, out);
        if (LibCrypto.evpEncryptFinalEx(ctx(), tagSegment, written) != 1) {
            throw OpenSslErrors.failure("EVP_EncryptFinal_ex", aead.jcaName);
        }
        if (written.get(JAVA_INT, 0) != 0) {
            throw new IllegalStateException(aead.jcaName + " produced " + written.get(JAVA_INT, 0) + " bytes at the end, expected none");
        }
        if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_GET_TAG, tagBytes, tagSegment) != 1) {
            throw OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl", "could not read " + aead.jcaName + "'s tag");
        }
        MemorySegment.copy(tagSegment, 0, out, produced, tagBytes);
        needsNewIv = true;
        return produced + tagBytes;
    }

    /**
     * ChaCha20-Poly1305's block counter has room for {@code length} more bytes under this nonce; otherwise
     * what the JDK throws ({@code ProviderException} caused by {@code KeyException} "Counter exhausted"),
     * before libcrypto would wrap the counter and reuse key stream.
     */
    private void requireChachaCounter(long length) {
        if (aead == Aead.CHACHA20_POLY1305 && messageBytes + length > chachaMaxBytes) {
            throw new ProviderException(new KeyException("Counter exhausted.  Reinitialize with new key and/or nonce"));
        }
    }

    /** Lowers ChaCha20-Poly1305's per-nonce limit, so that a test can reach it without 256 GiB of data. */
    void limitChachaBytesForTest(long maxBytes) {
        chachaMaxBytes = maxBytes;
    }

    /**
     * Decrypts what was buffered plus {@code in} (read where it is) straight into {@code out}, the
     * caller's output (array or buffer, heap or native), and checks the tag. On a mismatch, or any failure
     * once decryption started, the bytes of {@code out} it may have written are zeroed before the
     * exception ({@link AEADBadTagException} for the tag): no unauthenticated plaintext reaches the
     * caller. Nothing of the plaintext goes through libcrypto's heap. Either way the cipher is then back at
     * its initial state (same key and IV), as the JDK's is. Returns the plaintext's length.
     */
    private int decryptFinal(MemorySegment in, MemorySegment out) throws AEADBadTagException, ShortBufferException {
        try {
            MemorySegment all = in;
            if (ciphertext.size() > 0) {
                buffer(in);
                all = MemorySegment.ofArray(ciphertext.toByteArray());
            }
            if (all.byteSize() < tagBytes) {
                throw new AEADBadTagException("Input data too short to contain an expected tag length of " + tagBytes + " bytes");
            }
            int length = (int) all.byteSize() - tagBytes;
            if (out.byteSize() < length) {
                throw new ShortBufferException("the output needs " + length + " bytes");
            }
            requireChachaCounter(length);
            // the tag first: in place, the plaintext overwrites the ciphertext in front of it
            MemorySegment.copy(all, length, tagSegment, 0, tagBytes);
            MemorySegment plaintext = out.asSlice(0, length);
            MemorySegment source = unaliased(all.asSlice(0, length), plaintext);
            boolean verified = false;
            try {
                for (int done = 0; done < length; done += CriticalChunks.MAX_BYTES) {
                    int chunk = CriticalChunks.length(length, done);
                    if (LibCrypto.evpDecryptUpdateCritical(ctx(), plaintext.asSlice(done, chunk), written, CriticalChunks.slice(source, done, chunk), chunk) != 1) {
                        throw OpenSslErrors.failure("EVP_DecryptUpdate", aead.jcaName);
                    }
                    if (written.get(JAVA_INT, 0) != chunk) {
                        throw new IllegalStateException(aead.jcaName + " produced " + written.get(JAVA_INT, 0) + " bytes for " + chunk);
                    }
                }
                if (LibCrypto.evpCipherCtxCtrl(ctx(), LibCrypto.EVP_CTRL_AEAD_SET_TAG, tagBytes, tagSegment) != 1) {
                    throw OpenSslErrors.failure("EVP_CIPHER_CTX_ctrl", "could not set " + aead.jcaName + "'s tag");
                }
                if (LibCrypto.evpDecryptFinalEx(ctx(), finalOut, written) != 1) {
                    OpenSslErrors.drain();
                    throw new AEADBadTagException("Tag mismatch");
                }
                if (written.get(JAVA_INT, 0) != 0) {
                    throw new IllegalStateException(aead.jcaName + " produced " + written.get(JAVA_INT, 0) + " bytes at the end, expected none");
                }
                verified = true;
                return length;
            } finally {
                if (!verified) {
                    plaintext.fill((byte) 0);
                }
            }
        } finally {
            restart();
        }
    }

    /**
     * Told by {@code key.destroy()}: if the context holds that key's schedule, reset it (libcrypto frees
     * and cleanses the cipher's state) and refuse to operate until the next init. Waits for an operation
     * running on another thread to finish.
     */
    private void keyDestroyed(XpfoSecretKey destroyed) {
        synchronized (guard) {
            try {
                if (keyedWith != destroyed && key != destroyed) {
                    return;
                }
                if (LibCrypto.evpCipherCtxReset(ctx()) != 1) {
                    throw OpenSslErrors.failure("EVP_CIPHER_CTX_reset", "could not wipe " + aead.jcaName + "'s key schedule");
                }
                keyedWith = null;
                key = null;
                initialised = false;
                destroyedKey = destroyed;
                ciphertext.reset();
            } finally {
                Reference.reachabilityFence(this);
            }
        }
    }

    private MemorySegment ctx() {
        return ctx;
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
