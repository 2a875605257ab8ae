// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.libcrypto;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings of OpenSSL 3's libcrypto ({@code libcrypto.so.3}): C-shaped, one {@code static final
 * MethodHandle} per function, raw results. libcrypto reports failures on its per-thread error queue,
 * not in errno: {@link OpenSslErrors} drains it into typed exceptions. With {@code Libc} and
 * {@link HeapLibrary}, the only class of xpfo's that touches {@link Linker}.
 *
 * <p>Loading this class maps libcrypto but runs none of its code: no allocation happens before the
 * heap's owner has installed xpfo's allocator ({@code dev.xpfo.crypto.heap.CryptoHeap}).
 */
public final class LibCrypto {
    // ---- machinery ----
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup CRYPTO = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());

    static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = CRYPTO.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libcrypto.so.3 has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** The address of libcrypto's function {@code name} (to compare hooks with its defaults). */
    public static MemorySegment address(String name) {
        return CRYPTO.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libcrypto.so.3 has no symbol " + name));
    }

    static RuntimeException linkFailure(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("calling libcrypto failed", t);
    }

    private LibCrypto() {
    }

    // ---- the error queue ----
    private static final MethodHandle ERR_GET_ERROR = function("ERR_get_error", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ERR_ERROR_STRING_N = function("ERR_error_string_n",
            FunctionDescriptor.ofVoid(JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle ERR_CLEAR_ERROR = function("ERR_clear_error", FunctionDescriptor.ofVoid());

    /** {@code ERR_get_error}: the oldest error code on this thread's queue, removed; 0 if none. */
    public static long errGetError() {
        try {
            return (long) ERR_GET_ERROR.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code ERR_error_string_n} into {@code buffer}. */
    public static void errErrorStringN(long error, MemorySegment buffer, long length) {
        try {
            ERR_ERROR_STRING_N.invokeExact(error, buffer, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code ERR_clear_error}: empties this thread's queue. */
    public static void errClearError() {
        try {
            ERR_CLEAR_ERROR.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // ---- the heap: CRYPTO_{get,set}_mem_functions, OPENSSL_init_crypto, secure heap (heap helper) ----
    /** {@code OPENSSL_INIT_NO_ATEXIT}: no {@code atexit(OPENSSL_cleanup)} (other threads may still be in libcrypto). */
    public static final long OPENSSL_INIT_NO_ATEXIT = 0x00080000L;
    /** {@code OPENSSL_INIT_NO_LOAD_CONFIG}: no openssl.cnf (it could load engines allocating outside our heap). */
    public static final long OPENSSL_INIT_NO_LOAD_CONFIG = 0x00000080L;

    private static final MethodHandle CRYPTO_GET_MEM_FUNCTIONS = function("CRYPTO_get_mem_functions",
            FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle CRYPTO_SET_MEM_FUNCTIONS = function("CRYPTO_set_mem_functions",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle OPENSSL_INIT_CRYPTO = function("OPENSSL_init_crypto",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle CRYPTO_SECURE_MALLOC_INITIALIZED = function("CRYPTO_secure_malloc_initialized",
            FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle CRYPTO_MALLOC = function("CRYPTO_malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle CRYPTO_FREE = function("CRYPTO_free", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT));

    /** {@code CRYPTO_get_mem_functions}: writes the current malloc, realloc and free pointers into the three cells. */
    public static void cryptoGetMemFunctions(MemorySegment malloc, MemorySegment realloc, MemorySegment free) {
        try {
            CRYPTO_GET_MEM_FUNCTIONS.invokeExact(malloc, realloc, free);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_set_mem_functions}: 1 if set; 0 once libcrypto has allocated on its default path. */
    public static int cryptoSetMemFunctions(MemorySegment malloc, MemorySegment realloc, MemorySegment free) {
        try {
            return (int) CRYPTO_SET_MEM_FUNCTIONS.invokeExact(malloc, realloc, free);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code OPENSSL_init_crypto(opts, settings)}: 1 on success. */
    public static int opensslInitCrypto(long options, MemorySegment settings) {
        try {
            return (int) OPENSSL_INIT_CRYPTO.invokeExact(options, settings);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_secure_malloc_initialized}: 1 if libcrypto's secure heap (outside our hook) is on. */
    public static int cryptoSecureMallocInitialized() {
        try {
            return (int) CRYPTO_SECURE_MALLOC_INITIALIZED.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_malloc(num, file, line)}, the body of {@code OPENSSL_malloc}: through the installed hook. */
    public static MemorySegment cryptoMalloc(long bytes) {
        try {
            return (MemorySegment) CRYPTO_MALLOC.invokeExact(bytes, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_free(ptr, file, line)}, the body of {@code OPENSSL_free}. */
    public static void cryptoFree(MemorySegment block) {
        try {
            CRYPTO_FREE.invokeExact(block, MemorySegment.NULL, 0);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle CRYPTO_SECURE_MALLOC_INIT = function("CRYPTO_secure_malloc_init",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));

    /**
     * {@code CRYPTO_secure_malloc_init(size, minsize)}: turns on libcrypto's secure heap, an mmap arena in the
     * kernel's direct map that bypasses xpfo's allocator; 1 on success. xpfo never calls it: it exists so
     * tests can show that {@code CryptoHeap} refuses once some other code has.
     */
    public static int cryptoSecureMallocInit(long size, long minimumSize) {
        try {
            return (int) CRYPTO_SECURE_MALLOC_INIT.invokeExact(size, minimumSize);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // ---- keys, signatures, import (keys helper) ----
    private static final MethodHandle EVP_PKEY_Q_KEYGEN = function("EVP_PKEY_Q_keygen",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(3));
    private static final MethodHandle EVP_PKEY_Q_KEYGEN_NAMED = function("EVP_PKEY_Q_keygen",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(3));
    private static final MethodHandle EVP_PKEY_Q_KEYGEN_SIZED = function("EVP_PKEY_Q_keygen",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG), Linker.Option.firstVariadicArg(3));
    private static final MethodHandle EVP_PKEY_FREE = function("EVP_PKEY_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle EVP_PKEY_UP_REF = function("EVP_PKEY_up_ref", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle EVP_PKEY_IS_A = function("EVP_PKEY_is_a", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle I2D_PUBKEY = function("i2d_PUBKEY", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    // CRYPTO_free: bound once, in the heap section above (CRYPTO_FREE).
    private static final MethodHandle EVP_MD_CTX_NEW = function("EVP_MD_CTX_new", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle EVP_MD_CTX_FREE = function("EVP_MD_CTX_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle EVP_MD_CTX_RESET = function("EVP_MD_CTX_reset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle EVP_DIGEST_SIGN_INIT_EX = function("EVP_DigestSignInit_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_DIGEST_SIGN_UPDATE = function("EVP_DigestSignUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_DIGEST_SIGN_FINAL = function("EVP_DigestSignFinal",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_DIGEST_SIGN = function("EVP_DigestSign",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_PKEY_CTX_SET_RSA_PADDING = function("EVP_PKEY_CTX_set_rsa_padding",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle EVP_PKEY_CTX_SET_RSA_MGF1_MD_NAME = function("EVP_PKEY_CTX_set_rsa_mgf1_md_name",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_PKEY_CTX_SET_RSA_PSS_SALTLEN = function("EVP_PKEY_CTX_set_rsa_pss_saltlen",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle D2I_AUTO_PRIVATE_KEY = function("d2i_AutoPrivateKey",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle BIO_NEW_MEM_BUF = function("BIO_new_mem_buf", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle BIO_FREE = function("BIO_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle PEM_READ_BIO_PRIVATE_KEY = function("PEM_read_bio_PrivateKey",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code RSA_PKCS1_PSS_PADDING} of {@code <openssl/rsa.h>}. */
    public static final int RSA_PKCS1_PSS_PADDING = 6;

    /** {@code EVP_PKEY_Q_keygen(libctx, propq, type)} with no further argument (Ed25519, X25519); NULL on failure. */
    public static MemorySegment evpPkeyQKeygen(MemorySegment libctx, MemorySegment propq, MemorySegment type) {
        try {
            return (MemorySegment) EVP_PKEY_Q_KEYGEN.invokeExact(libctx, propq, type);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_Q_keygen(libctx, propq, "EC", curve)}; NULL on failure. */
    public static MemorySegment evpPkeyQKeygenNamed(MemorySegment libctx, MemorySegment propq, MemorySegment type, MemorySegment name) {
        try {
            return (MemorySegment) EVP_PKEY_Q_KEYGEN_NAMED.invokeExact(libctx, propq, type, name);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_Q_keygen(libctx, propq, "RSA", (size_t) bits)}; NULL on failure. */
    public static MemorySegment evpPkeyQKeygenSized(MemorySegment libctx, MemorySegment propq, MemorySegment type, long bits) {
        try {
            return (MemorySegment) EVP_PKEY_Q_KEYGEN_SIZED.invokeExact(libctx, propq, type, bits);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_free}: drops one reference; the last one frees (and cleanses) the key. */
    public static void evpPkeyFree(MemorySegment pkey) {
        try {
            EVP_PKEY_FREE.invokeExact(pkey);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_up_ref}: 1 on success. */
    public static int evpPkeyUpRef(MemorySegment pkey) {
        try {
            return (int) EVP_PKEY_UP_REF.invokeExact(pkey);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_is_a}: 1 if the key is of type {@code name}. */
    public static int evpPkeyIsA(MemorySegment pkey, MemorySegment name) {
        try {
            return (int) EVP_PKEY_IS_A.invokeExact(pkey, name);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code i2d_PUBKEY(pkey, &out)}: the SubjectPublicKeyInfo's length, or &lt;= 0; {@code *out} is libcrypto's. */
    public static int i2dPubkey(MemorySegment pkey, MemorySegment out) {
        try {
            return (int) I2D_PUBKEY.invokeExact(pkey, out);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code CRYPTO_free(ptr, file, line)}: the body of {@code OPENSSL_free}. */
    public static void cryptoFree(MemorySegment ptr, MemorySegment file, int line) {
        try {
            CRYPTO_FREE.invokeExact(ptr, file, line);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_MD_CTX_new}; NULL on failure. */
    public static MemorySegment evpMdCtxNew() {
        try {
            return (MemorySegment) EVP_MD_CTX_NEW.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_MD_CTX_free}. */
    public static void evpMdCtxFree(MemorySegment ctx) {
        try {
            EVP_MD_CTX_FREE.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_MD_CTX_reset}: releases the context's key and digest state; 1 on success. */
    public static int evpMdCtxReset(MemorySegment ctx) {
        try {
            return (int) EVP_MD_CTX_RESET.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestSignInit_ex(ctx, &pctx, mdname, libctx, props, pkey, params)}: 1 on success. */
    public static int evpDigestSignInitEx(MemorySegment ctx, MemorySegment pctxOut, MemorySegment mdName, MemorySegment libctx,
                                          MemorySegment props, MemorySegment pkey, MemorySegment params) {
        try {
            return (int) EVP_DIGEST_SIGN_INIT_EX.invokeExact(ctx, pctxOut, mdName, libctx, props, pkey, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestSignUpdate}: 1 on success. */
    public static int evpDigestSignUpdate(MemorySegment ctx, MemorySegment data, long count) {
        try {
            return (int) EVP_DIGEST_SIGN_UPDATE.invokeExact(ctx, data, count);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestSignFinal(ctx, sig, &siglen)}: with {@code sig} NULL, the maximum length; 1 on success. */
    public static int evpDigestSignFinal(MemorySegment ctx, MemorySegment sig, MemorySegment sigLen) {
        try {
            return (int) EVP_DIGEST_SIGN_FINAL.invokeExact(ctx, sig, sigLen);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestSign(ctx, sig, &siglen, tbs, tbslen)}: one-shot (the only form EdDSA has); 1 on success. */
    public static int evpDigestSign(MemorySegment ctx, MemorySegment sig, MemorySegment sigLen, MemorySegment tbs, long tbsLen) {
        try {
            return (int) EVP_DIGEST_SIGN.invokeExact(ctx, sig, sigLen, tbs, tbsLen);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_CTX_set_rsa_padding}: &gt; 0 on success. */
    public static int evpPkeyCtxSetRsaPadding(MemorySegment pctx, int padding) {
        try {
            return (int) EVP_PKEY_CTX_SET_RSA_PADDING.invokeExact(pctx, padding);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mdname, props)}: &gt; 0 on success. */
    public static int evpPkeyCtxSetRsaMgf1MdName(MemorySegment pctx, MemorySegment mdName, MemorySegment props) {
        try {
            return (int) EVP_PKEY_CTX_SET_RSA_MGF1_MD_NAME.invokeExact(pctx, mdName, props);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_CTX_set_rsa_pss_saltlen}: &gt; 0 on success. */
    public static int evpPkeyCtxSetRsaPssSaltlen(MemorySegment pctx, int saltLen) {
        try {
            return (int) EVP_PKEY_CTX_SET_RSA_PSS_SALTLEN.invokeExact(pctx, saltLen);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code d2i_AutoPrivateKey(NULL, &p, len)}: a key from DER (PKCS#8 or traditional); NULL on failure. */
    public static MemorySegment d2iAutoPrivateKey(MemorySegment out, MemorySegment cursor, long length) {
        try {
            return (MemorySegment) D2I_AUTO_PRIVATE_KEY.invokeExact(out, cursor, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code BIO_new_mem_buf(buf, len)}: a read-only BIO over {@code buf}, no copy; NULL on failure. */
    public static MemorySegment bioNewMemBuf(MemorySegment buffer, int length) {
        try {
            return (MemorySegment) BIO_NEW_MEM_BUF.invokeExact(buffer, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code BIO_free}: 1 on success. */
    public static int bioFree(MemorySegment bio) {
        try {
            return (int) BIO_FREE.invokeExact(bio);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code PEM_read_bio_PrivateKey(bio, NULL, cb, u)}: NULL on failure. */
    public static MemorySegment pemReadBioPrivateKey(MemorySegment bio, MemorySegment out, MemorySegment callback, MemorySegment user) {
        try {
            return (MemorySegment) PEM_READ_BIO_PRIVATE_KEY.invokeExact(bio, out, callback, user);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // verification (d2i_PUBKEY is bound once, in the key agreement section below)
    private static final MethodHandle EVP_DIGEST_VERIFY_INIT_EX = function("EVP_DigestVerifyInit_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_DIGEST_VERIFY_UPDATE = function("EVP_DigestVerifyUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_DIGEST_VERIFY_FINAL = function("EVP_DigestVerifyFinal",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_DIGEST_VERIFY = function("EVP_DigestVerify",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_PKEY_GET_SIZE = function("EVP_PKEY_get_size", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle EVP_MD_CTX_SET_FLAGS = function("EVP_MD_CTX_set_flags", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));

    /** {@code EVP_MD_CTX_FLAG_FINALISE} of {@code <openssl/evp.h>}: a final call may consume the context instead of copying it. */
    public static final int EVP_MD_CTX_FLAG_FINALISE = 0x0200;

    /** {@code EVP_DigestVerifyInit_ex(ctx, &pctx, mdname, libctx, props, pkey, params)}: 1 on success. */
    public static int evpDigestVerifyInitEx(MemorySegment ctx, MemorySegment pctxOut, MemorySegment mdName, MemorySegment libctx,
                                            MemorySegment props, MemorySegment pkey, MemorySegment params) {
        try {
            return (int) EVP_DIGEST_VERIFY_INIT_EX.invokeExact(ctx, pctxOut, mdName, libctx, props, pkey, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestVerifyUpdate}: 1 on success. */
    public static int evpDigestVerifyUpdate(MemorySegment ctx, MemorySegment data, long count) {
        try {
            return (int) EVP_DIGEST_VERIFY_UPDATE.invokeExact(ctx, data, count);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestVerifyFinal(ctx, sig, siglen)}: 1 valid, 0 invalid, negative on an error (a malformed signature). */
    public static int evpDigestVerifyFinal(MemorySegment ctx, MemorySegment sig, long sigLen) {
        try {
            return (int) EVP_DIGEST_VERIFY_FINAL.invokeExact(ctx, sig, sigLen);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen)}: one-shot (EdDSA); 1 valid, 0 invalid, negative on an error. */
    public static int evpDigestVerify(MemorySegment ctx, MemorySegment sig, long sigLen, MemorySegment tbs, long tbsLen) {
        try {
            return (int) EVP_DIGEST_VERIFY.invokeExact(ctx, sig, sigLen, tbs, tbsLen);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_get_size}: the largest signature the key makes (an RSA key's modulus bytes); 0 or less if unknown. */
    public static int evpPkeyGetSize(MemorySegment pkey) {
        try {
            return (int) EVP_PKEY_GET_SIZE.invokeExact(pkey);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_MD_CTX_set_flags(ctx, flags)}. */
    public static void evpMdCtxSetFlags(MemorySegment ctx, int flags) {
        try {
            EVP_MD_CTX_SET_FLAGS.invokeExact(ctx, flags);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // public-key checks before verifying (EVP_PKEY_CTX_new_from_pkey and EVP_PKEY_CTX_free are bound in the key agreement section below)
    private static final MethodHandle EVP_PKEY_GET_UTF8_STRING_PARAM = function("EVP_PKEY_get_utf8_string_param",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle EVP_PKEY_GET_BN_PARAM = function("EVP_PKEY_get_bn_param",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_PKEY_GET_RAW_PUBLIC_KEY = function("EVP_PKEY_get_raw_public_key",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle EVP_PKEY_PUBLIC_CHECK_QUICK = function("EVP_PKEY_public_check_quick",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle BN_NUM_BITS = function("BN_num_bits", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle BN_BN2BIN = function("BN_bn2bin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle BN_FREE = function("BN_free", FunctionDescriptor.ofVoid(ADDRESS));

    /**
     * {@code EVP_PKEY_get_utf8_string_param(pkey, name, buf, max, &len)}: a text parameter ("group",
     * "encoding") into {@code buf} with its NUL; 1 on success, 0 if absent or longer than {@code max}.
     */
    public static int evpPkeyGetUtf8StringParam(MemorySegment pkey, MemorySegment name, MemorySegment buffer, long max,
                                                MemorySegment length) {
        try {
            return (int) EVP_PKEY_GET_UTF8_STRING_PARAM.invokeExact(pkey, name, buffer, max, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_get_bn_param(pkey, name, &bn)}: a new BIGNUM ("n", "e") into {@code *bn}, to {@link #bnFree}; 1 on success. */
    public static int evpPkeyGetBnParam(MemorySegment pkey, MemorySegment name, MemorySegment bnOut) {
        try {
            return (int) EVP_PKEY_GET_BN_PARAM.invokeExact(pkey, name, bnOut);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_get_raw_public_key(pkey, buf, &len)}: an Ed25519/X25519 key's 32 bytes; 1 on success. */
    public static int evpPkeyGetRawPublicKey(MemorySegment pkey, MemorySegment buffer, MemorySegment length) {
        try {
            return (int) EVP_PKEY_GET_RAW_PUBLIC_KEY.invokeExact(pkey, buffer, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_public_check_quick(ctx)}: an EC point on its curve and not at infinity; 1 if it passes, &lt;= 0 if not. */
    public static int evpPkeyPublicCheckQuick(MemorySegment pctx) {
        try {
            return (int) EVP_PKEY_PUBLIC_CHECK_QUICK.invokeExact(pctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code BN_num_bits}: the number's length in bits (0 for zero). */
    public static int bnNumBits(MemorySegment bn) {
        try {
            return (int) BN_NUM_BITS.invokeExact(bn);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code BN_bn2bin(bn, to)}: the magnitude big-endian into {@code to} ({@code (BN_num_bits + 7) / 8} bytes); its length. */
    public static int bnBn2bin(MemorySegment bn, MemorySegment to) {
        try {
            return (int) BN_BN2BIN.invokeExact(bn, to);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code BN_free}. */
    public static void bnFree(MemorySegment bn) {
        try {
            BN_FREE.invokeExact(bn);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // signing templates: a context initialised once per key and digest, copied for each signature
    private static final MethodHandle EVP_MD_CTX_COPY_EX = function("EVP_MD_CTX_copy_ex", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    /**
     * {@code EVP_MD_CTX_copy_ex(out, in)}: resets {@code out}, then makes it a copy of {@code in},
     * duplicating its {@code EVP_PKEY_CTX} (OpenSSL 3.0: {@code EVP_PKEY_CTX_dup}, the signature's
     * {@code dupctx}; the copy holds its own reference to the key). {@code in} is only read. 1 on success.
     */
    public static int evpMdCtxCopyEx(MemorySegment out, MemorySegment in) {
        try {
            return (int) EVP_MD_CTX_COPY_EX.invokeExact(out, in);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    // ---- ciphers, MACs, key agreement (ciphers helper) ----

    /** {@code EVP_CTRL_AEAD_SET_IVLEN} (evp.h). */
    public static final int EVP_CTRL_AEAD_SET_IVLEN = 0x9;
    /** {@code EVP_CTRL_AEAD_GET_TAG} (evp.h). */
    public static final int EVP_CTRL_AEAD_GET_TAG = 0x10;
    /** {@code EVP_CTRL_AEAD_SET_TAG} (evp.h). */
    public static final int EVP_CTRL_AEAD_SET_TAG = 0x11;
    /** {@code OSSL_PARAM_UTF8_STRING} (core.h). */
    public static final int OSSL_PARAM_UTF8_STRING = 4;
    /** {@code OSSL_PARAM_UNMODIFIED} (params.h): {@code return_size} of a parameter nobody set. */
    public static final long OSSL_PARAM_UNMODIFIED = -1L;
    /** {@code struct ossl_param_st} (core.h): key, data_type, data, data_size, return_size. */
    public static final StructLayout OSSL_PARAM = MemoryLayout.structLayout(
            ADDRESS.withName("key"), JAVA_INT.withName("data_type"), MemoryLayout.paddingLayout(4),
            ADDRESS.withName("data"), JAVA_LONG.withName("data_size"), JAVA_LONG.withName("return_size"));

    private static final MethodHandle CRYPTO_ZALLOC = function("CRYPTO_zalloc",
            FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));

    /** {@code CRYPTO_zalloc}, the body of {@code OPENSSL_zalloc}: {@code num} zeroed bytes from libcrypto's heap (xpfo's secret memory once installed); NULL on failure. */
    public static MemorySegment cryptoZalloc(long num, MemorySegment file, int line) {
        try {
            return (MemorySegment) CRYPTO_ZALLOC.invokeExact(num, file, line);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle CRYPTO_CLEAR_FREE = function("CRYPTO_clear_free",
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT));

    /** {@code CRYPTO_clear_free}: wipes {@code num} bytes at {@code pointer}, then frees it. */
    public static void cryptoClearFree(MemorySegment pointer, long num, MemorySegment file, int line) {
        try {
            CRYPTO_CLEAR_FREE.invokeExact(pointer, num, file, line);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle RAND_PRIV_BYTES = function("RAND_priv_bytes",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    /** {@code RAND_priv_bytes}: {@code num} random bytes from the private DRBG (the one meant for keys); 1 on success. */
    public static int randPrivBytes(MemorySegment buffer, int num) {
        try {
            return (int) RAND_PRIV_BYTES.invokeExact(buffer, num);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_FETCH = function("EVP_MAC_fetch",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_MAC_fetch}: the MAC implementation named {@code algorithm}; NULL if none. */
    public static MemorySegment evpMacFetch(MemorySegment libctx, MemorySegment algorithm, MemorySegment properties) {
        try {
            return (MemorySegment) EVP_MAC_FETCH.invokeExact(libctx, algorithm, properties);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_CTX_NEW = function("EVP_MAC_CTX_new",
            FunctionDescriptor.of(ADDRESS, ADDRESS));

    /** {@code EVP_MAC_CTX_new}; NULL on failure. */
    public static MemorySegment evpMacCtxNew(MemorySegment mac) {
        try {
            return (MemorySegment) EVP_MAC_CTX_NEW.invokeExact(mac);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_CTX_FREE = function("EVP_MAC_CTX_free",
            FunctionDescriptor.ofVoid(ADDRESS));

    /** {@code EVP_MAC_CTX_free} (wipes the key it holds). */
    public static void evpMacCtxFree(MemorySegment ctx) {
        try {
            EVP_MAC_CTX_FREE.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_INIT = function("EVP_MAC_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));

    /** {@code EVP_MAC_init}: a NULL key re-initialises with the key already set; 1 on success. */
    public static int evpMacInit(MemorySegment ctx, MemorySegment key, long keyLength, MemorySegment params) {
        try {
            return (int) EVP_MAC_INIT.invokeExact(ctx, key, keyLength, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_UPDATE = function("EVP_MAC_update",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code EVP_MAC_update}; 1 on success. */
    public static int evpMacUpdate(MemorySegment ctx, MemorySegment data, long length) {
        try {
            return (int) EVP_MAC_UPDATE.invokeExact(ctx, data, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_FINAL = function("EVP_MAC_final",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code EVP_MAC_final}: writes the MAC and its length ({@code size_t *outLength}); 1 on success. */
    public static int evpMacFinal(MemorySegment ctx, MemorySegment out, MemorySegment outLength, long outSize) {
        try {
            return (int) EVP_MAC_FINAL.invokeExact(ctx, out, outLength, outSize);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_CIPHER_FETCH = function("EVP_CIPHER_fetch",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_CIPHER_fetch}: the cipher named {@code algorithm} (e.g. {@code AES-256-GCM}); NULL if none. */
    public static MemorySegment evpCipherFetch(MemorySegment libctx, MemorySegment algorithm, MemorySegment properties) {
        try {
            return (MemorySegment) EVP_CIPHER_FETCH.invokeExact(libctx, algorithm, properties);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_CIPHER_CTX_NEW = function("EVP_CIPHER_CTX_new",
            FunctionDescriptor.of(ADDRESS));

    /** {@code EVP_CIPHER_CTX_new}; NULL on failure. */
    public static MemorySegment evpCipherCtxNew() {
        try {
            return (MemorySegment) EVP_CIPHER_CTX_NEW.invokeExact();
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_CIPHER_CTX_FREE = function("EVP_CIPHER_CTX_free",
            FunctionDescriptor.ofVoid(ADDRESS));

    /** {@code EVP_CIPHER_CTX_free} (wipes the key schedule). */
    public static void evpCipherCtxFree(MemorySegment ctx) {
        try {
            EVP_CIPHER_CTX_FREE.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_ENCRYPTINIT_EX2 = function("EVP_EncryptInit_ex2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_EncryptInit_ex2}: NULL arguments keep what is set; 1 on success. */
    public static int evpEncryptInitEx2(MemorySegment ctx, MemorySegment cipher, MemorySegment key, MemorySegment iv, MemorySegment params) {
        try {
            return (int) EVP_ENCRYPTINIT_EX2.invokeExact(ctx, cipher, key, iv, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_DECRYPTINIT_EX2 = function("EVP_DecryptInit_ex2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_DecryptInit_ex2}: NULL arguments keep what is set; 1 on success. */
    public static int evpDecryptInitEx2(MemorySegment ctx, MemorySegment cipher, MemorySegment key, MemorySegment iv, MemorySegment params) {
        try {
            return (int) EVP_DECRYPTINIT_EX2.invokeExact(ctx, cipher, key, iv, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_ENCRYPTUPDATE = function("EVP_EncryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));

    /** {@code EVP_EncryptUpdate}: a NULL {@code out} feeds AAD; {@code int *outLength}; 1 on success. */
    public static int evpEncryptUpdate(MemorySegment ctx, MemorySegment out, MemorySegment outLength, MemorySegment in, int inLength) {
        try {
            return (int) EVP_ENCRYPTUPDATE.invokeExact(ctx, out, outLength, in, inLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_DECRYPTUPDATE = function("EVP_DecryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));

    /** {@code EVP_DecryptUpdate}: releases plaintext BEFORE the tag is checked; a NULL {@code out} feeds AAD; 1 on success. */
    public static int evpDecryptUpdate(MemorySegment ctx, MemorySegment out, MemorySegment outLength, MemorySegment in, int inLength) {
        try {
            return (int) EVP_DECRYPTUPDATE.invokeExact(ctx, out, outLength, in, inLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_ENCRYPTFINAL_EX = function("EVP_EncryptFinal_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_EncryptFinal_ex}; 1 on success. */
    public static int evpEncryptFinalEx(MemorySegment ctx, MemorySegment out, MemorySegment outLength) {
        try {
            return (int) EVP_ENCRYPTFINAL_EX.invokeExact(ctx, out, outLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_DECRYPTFINAL_EX = function("EVP_DecryptFinal_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_DecryptFinal_ex}: for AEAD ciphers, checks the tag; 1 if it matches, &lt;= 0 otherwise. */
    public static int evpDecryptFinalEx(MemorySegment ctx, MemorySegment out, MemorySegment outLength) {
        try {
            return (int) EVP_DECRYPTFINAL_EX.invokeExact(ctx, out, outLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_CIPHER_CTX_CTRL = function("EVP_CIPHER_CTX_ctrl",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));

    /** {@code EVP_CIPHER_CTX_ctrl} (e.g. {@link #EVP_CTRL_AEAD_GET_TAG}); 1 on success. */
    public static int evpCipherCtxCtrl(MemorySegment ctx, int type, int arg, MemorySegment pointer) {
        try {
            return (int) EVP_CIPHER_CTX_CTRL.invokeExact(ctx, type, arg, pointer);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_EC} (evp.h, = NID_X9_62_id_ecPublicKey). */
    public static final int EVP_PKEY_EC = 408;
    /** {@code EVP_PKEY_X25519} (evp.h, = NID_X25519). */
    public static final int EVP_PKEY_X25519 = 1034;

    private static final MethodHandle EVP_PKEY_CTX_NEW_FROM_PKEY = function("EVP_PKEY_CTX_new_from_pkey",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_PKEY_CTX_new_from_pkey}: a context holding its own reference to {@code pkey}; NULL on failure. */
    public static MemorySegment evpPkeyCtxNewFromPkey(MemorySegment libctx, MemorySegment pkey, MemorySegment properties) {
        try {
            return (MemorySegment) EVP_PKEY_CTX_NEW_FROM_PKEY.invokeExact(libctx, pkey, properties);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_CTX_FREE = function("EVP_PKEY_CTX_free",
            FunctionDescriptor.ofVoid(ADDRESS));

    /** {@code EVP_PKEY_CTX_free} (drops its key references). */
    public static void evpPkeyCtxFree(MemorySegment ctx) {
        try {
            EVP_PKEY_CTX_FREE.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_DERIVE_INIT = function("EVP_PKEY_derive_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /** {@code EVP_PKEY_derive_init}; 1 on success, &lt;= 0 if the key cannot derive. */
    public static int evpPkeyDeriveInit(MemorySegment ctx) {
        try {
            return (int) EVP_PKEY_DERIVE_INIT.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_DERIVE = function("EVP_PKEY_derive",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_PKEY_derive}: a NULL {@code key} asks for the length ({@code size_t *keyLength}); 1 on success, &lt;= 0 on failure (e.g. a small-order X25519 peer). */
    public static int evpPkeyDerive(MemorySegment ctx, MemorySegment key, MemorySegment keyLength) {
        try {
            return (int) EVP_PKEY_DERIVE.invokeExact(ctx, key, keyLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle D2I_PUBKEY = function("d2i_PUBKEY",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code d2i_PUBKEY}: an {@code EVP_PKEY} from an X.509 SubjectPublicKeyInfo; {@code input} is a {@code const unsigned char **} it advances; NULL on failure. */
    public static MemorySegment d2iPubkey(MemorySegment reuse, MemorySegment input, long length) {
        try {
            return (MemorySegment) D2I_PUBKEY.invokeExact(reuse, input, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_NEW_RAW_PRIVATE_KEY = function("EVP_PKEY_new_raw_private_key",
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code EVP_PKEY_new_raw_private_key}: an X25519/Ed25519 key from its raw bytes; NULL on failure. */
    public static MemorySegment evpPkeyNewRawPrivateKey(int type, MemorySegment engine, MemorySegment key, long length) {
        try {
            return (MemorySegment) EVP_PKEY_NEW_RAW_PRIVATE_KEY.invokeExact(type, engine, key, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle D2I_PRIVATEKEY = function("d2i_PrivateKey",
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code d2i_PrivateKey}: an {@code EVP_PKEY} of {@code type} from DER; {@code input} is a {@code const unsigned char **} it advances; NULL on failure. */
    public static MemorySegment d2iPrivateKey(int type, MemorySegment reuse, MemorySegment input, long length) {
        try {
            return (MemorySegment) D2I_PRIVATEKEY.invokeExact(type, reuse, input, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /*
     * Critical bindings (Linker.Option.critical(true)): no thread-state transition, and heap segments
     * (byte[], heap ByteBuffers) are passed directly, so a message is not copied to native memory first.
     * A critical call must never come back into Java, and xpfo's allocator may make an upcall to grow its
     * heap: these bindings are only for calls that allocate nothing. In OpenSSL 3.0 each of the three
     * below, on a context that is keyed and initialised for that direction, goes straight to the
     * provider's update (ossl_gcm_stream_update -> gcm_cipher_internal -> CRYPTO_gcm128_{en,de}crypt*,
     * chacha20_poly1305_cipher -> its hw aead_cipher, hmac_update -> HMAC_Update -> EVP_DigestUpdate ->
     * SHA2 update), which computes within the context and returns. The only allocation in reach is
     * ERR_raise on a failure path (a NULL outl, a context of the other direction, no key or IV, a GCM IV
     * already finished, more than 2^36-32 GCM bytes under one IV, AAD after data): the callers
     * (dev.xpfo.crypto.symmetric) rule each of those out before calling. Callers also keep each call
     * short (at most 64 KiB per call): the GC waits while a critical call holds a heap array.
     * Checked on OpenSSL 3.0.19 with a counting CRYPTO_set_mem_functions hook: no allocation in 3,300
     * such updates (AES-128/256-GCM and ChaCha20-Poly1305 both ways: AAD, 1 byte, 64 KiB, a partial
     * block; HMAC-SHA256/384/512), while EVP_MAC_init and EVP_MAC_final allocate (not critical).
     */
    private static final MethodHandle EVP_ENCRYPTUPDATE_CRITICAL = function("EVP_EncryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT), Linker.Option.critical(true));

    /**
     * {@code EVP_EncryptUpdate} as a critical call: {@code out}, {@code in} may be heap segments. Only on
     * an AEAD context keyed for encryption, with its IV set, and within GCM's length limit (see above).
     */
    public static int evpEncryptUpdateCritical(MemorySegment ctx, MemorySegment out, MemorySegment outLength, MemorySegment in, int inLength) {
        try {
            return (int) EVP_ENCRYPTUPDATE_CRITICAL.invokeExact(ctx, out, outLength, in, inLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_DECRYPTUPDATE_CRITICAL = function("EVP_DecryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT), Linker.Option.critical(true));

    /** {@code EVP_DecryptUpdate} as a critical call: {@code in} may be a heap segment. Same conditions as {@link #evpEncryptUpdateCritical}. */
    public static int evpDecryptUpdateCritical(MemorySegment ctx, MemorySegment out, MemorySegment outLength, MemorySegment in, int inLength) {
        try {
            return (int) EVP_DECRYPTUPDATE_CRITICAL.invokeExact(ctx, out, outLength, in, inLength);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_MAC_UPDATE_CRITICAL = function("EVP_MAC_update",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), Linker.Option.critical(true));

    /** {@code EVP_MAC_update} as a critical call: {@code data} may be a heap segment. Only on a keyed HMAC context (see above). */
    public static int evpMacUpdateCritical(MemorySegment ctx, MemorySegment data, long length) {
        try {
            return (int) EVP_MAC_UPDATE_CRITICAL.invokeExact(ctx, data, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_CIPHER_CTX_RESET = function("EVP_CIPHER_CTX_reset",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /** {@code EVP_CIPHER_CTX_reset}: frees the cipher's state (its key schedule, cleansed), keeps the context; 1 on success. */
    public static int evpCipherCtxReset(MemorySegment ctx) {
        try {
            return (int) EVP_CIPHER_CTX_RESET.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_NEW_RAW_PUBLIC_KEY_EX = function("EVP_PKEY_new_raw_public_key_ex",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));

    /** {@code EVP_PKEY_new_raw_public_key_ex}: an X25519/Ed25519 public key ({@code keyType}) from its raw bytes; NULL on failure. */
    public static MemorySegment evpPkeyNewRawPublicKeyEx(MemorySegment libctx, MemorySegment keyType, MemorySegment properties,
            MemorySegment key, long length) {
        try {
            return (MemorySegment) EVP_PKEY_NEW_RAW_PUBLIC_KEY_EX.invokeExact(libctx, keyType, properties, key, length);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code EVP_PKEY_PUBLIC_KEY} (evp.h): the selection of a public key with its domain parameters. */
    public static final int EVP_PKEY_PUBLIC_KEY = 0x86;
    /** {@code OSSL_PARAM_OCTET_STRING} (core.h). */
    public static final int OSSL_PARAM_OCTET_STRING = 5;

    private static final MethodHandle EVP_PKEY_CTX_NEW_FROM_NAME = function("EVP_PKEY_CTX_new_from_name",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** {@code EVP_PKEY_CTX_new_from_name}: a context for the key type {@code name} (e.g. {@code EC}); NULL on failure. */
    public static MemorySegment evpPkeyCtxNewFromName(MemorySegment libctx, MemorySegment name, MemorySegment properties) {
        try {
            return (MemorySegment) EVP_PKEY_CTX_NEW_FROM_NAME.invokeExact(libctx, name, properties);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_FROMDATA_INIT = function("EVP_PKEY_fromdata_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /** {@code EVP_PKEY_fromdata_init}; 1 on success. */
    public static int evpPkeyFromdataInit(MemorySegment ctx) {
        try {
            return (int) EVP_PKEY_FROMDATA_INIT.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_FROMDATA = function("EVP_PKEY_fromdata",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));

    /** {@code EVP_PKEY_fromdata}: a key from an OSSL_PARAM array into {@code *pkey} ({@code EVP_PKEY **}); 1 on success. */
    public static int evpPkeyFromdata(MemorySegment ctx, MemorySegment pkey, int selection, MemorySegment params) {
        try {
            return (int) EVP_PKEY_FROMDATA.invokeExact(ctx, pkey, selection, params);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    /** {@code OSSL_PARAM_UNSIGNED_INTEGER} (core.h): a native-endian unsigned integer (a BIGNUM's value). */
    public static final int OSSL_PARAM_UNSIGNED_INTEGER = 2;

    private static final MethodHandle EVP_PKEY_PUBLIC_CHECK = function("EVP_PKEY_public_check",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /** {@code EVP_PKEY_public_check(ctx)} on a context of the key: 1 if the public key is valid (an EC point in the group's prime-order subgroup). */
    public static int evpPkeyPublicCheck(MemorySegment ctx) {
        try {
            return (int) EVP_PKEY_PUBLIC_CHECK.invokeExact(ctx);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_DERIVE_SET_PEER_EX = function("EVP_PKEY_derive_set_peer_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));

    /**
     * {@code EVP_PKEY_derive_set_peer_ex(ctx, peer, validate)}: takes its own reference to {@code peer}; with
     * {@code validate} 1 it first runs {@code EVP_PKEY_public_check} on it ({@code EVP_PKEY_derive_set_peer} is
     * this with 1). 1 on success, &lt;= 0 for a peer of another type or curve (or invalid, when validating).
     */
    public static int evpPkeyDeriveSetPeerEx(MemorySegment ctx, MemorySegment peer, int validate) {
        try {
            return (int) EVP_PKEY_DERIVE_SET_PEER_EX.invokeExact(ctx, peer, validate);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    private static final MethodHandle EVP_PKEY_EQ = function("EVP_PKEY_eq", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    /** {@code EVP_PKEY_eq(a, b)}: 1 if the keys (their public parts and parameters) are equal, 0 if not, negative if not comparable. */
    public static int evpPkeyEq(MemorySegment a, MemorySegment b) {
        try {
            return (int) EVP_PKEY_EQ.invokeExact(a, b);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }
}
