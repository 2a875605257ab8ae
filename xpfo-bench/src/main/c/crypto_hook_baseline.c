// SPDX-License-Identifier: Apache-2.0
/*
 * What xpfo's allocation hook costs libcrypto: the same operations with libcrypto's heap left on libc's
 * malloc ("plain") or redirected with CRYPTO_set_mem_functions to xpfo's allocator
 * (xpfo-crypto/src/main/c/xpfo_crypto_heap.c, compiled in) over secret-memory chunks this program maps
 * itself ("xpfo_heap"). The hook must be set before libcrypto's first allocation, so one process cannot
 * measure both: the bench runs this binary twice, once per mode, and interleaves their rounds.
 *
 *   crypto_hook_baseline plain|xpfo_heap [count]
 *
 * "count" adds a wrapper that counts libcrypto's malloc, realloc and free calls (around libc's
 * functions in plain mode, around xpfo's in xpfo_heap mode); without it nothing stands between
 * libcrypto and the allocator. Prints "ready" (or "error: ..." and exits 1), then answers one line per
 * command read from standard input:
 *
 *   calibrate OP MILLIS   runs OP for about MILLIS ms; prints how many times it ran
 *   run OP COUNT          runs OP COUNT times; prints "NANOS MALLOCS REALLOCS FREES" (counts 0 without "count")
 *
 * OPs, each set up once (keys, contexts and fetched algorithms made before any timing), done the way the
 * XPFO provider does them:
 *   ecdsa_p256_sign_fresh   SHA256withECDSA over 32 bytes, a new EVP_MD_CTX per signature
 *   ecdsa_p256_sign_reused  the same, one EVP_MD_CTX re-initialised in place (EVP_DigestSignInit_ex with no key)
 *   ed25519_sign            Ed25519 over 32 bytes, one EVP_MD_CTX re-initialised in place
 *   aes256_gcm_1k, aes256_gcm_16k   encryption under a new 12-byte nonce, one EVP_CIPHER_CTX
 *   hmac_sha256_1k          EVP_MAC HMAC-SHA256, one EVP_MAC_CTX re-initialised with its key
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

/* xpfo_crypto_heap.c has no header: its libcrypto-facing functions, as it defines them. */
void *xpfo_heap_malloc(size_t n, const char *file, int line);
void xpfo_heap_free(void *p, const char *file, int line);
void *xpfo_heap_realloc(void *p, size_t n, const char *file, int line);
int xpfo_heap_add_chunk(void *base, size_t len);
void xpfo_heap_set_grow(int (*g)(size_t));

#define CHUNK_BYTES ((size_t)2 << 20)

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* ---- the allocators libcrypto is given ---- */

static int xpfo_mode;
static unsigned long long mallocs, reallocs, frees;

static void *libc_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return malloc(n);
}

static void *libc_realloc(void *p, size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return realloc(p, n);
}

static void libc_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    free(p);
}

static void *counting_malloc(size_t n, const char *file, int line) {
    mallocs++;
    return xpfo_mode ? xpfo_heap_malloc(n, file, line) : libc_malloc(n, file, line);
}

static void *counting_realloc(void *p, size_t n, const char *file, int line) {
    reallocs++;
    return xpfo_mode ? xpfo_heap_realloc(p, n, file, line) : libc_realloc(p, n, file, line);
}

static void counting_free(void *p, const char *file, int line) {
    if (p != NULL) {
        frees++;
    }
    if (xpfo_mode) {
        xpfo_heap_free(p, file, line);
    } else {
        libc_free(p, file, line);
    }
}

/* A 2 MiB secret-memory chunk (out of the direct map), populated by writing a byte per page. */
static int add_secret_chunk(size_t bytes) {
    size_t len = bytes < CHUNK_BYTES ? CHUNK_BYTES : (bytes + CHUNK_BYTES - 1) & ~(CHUNK_BYTES - 1);
    int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "memfd_secret: %s\n", strerror(errno));
        return 0;
    }
    if (ftruncate(fd, (off_t)len) != 0) {
        fprintf(stderr, "ftruncate: %s\n", strerror(errno));
        close(fd);
        return 0;
    }
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        fprintf(stderr, "mmap: %s\n", strerror(errno));
        return 0;
    }
    for (size_t off = 0; off < len; off += 4096) {
        ((volatile char *)base)[off] = 0;
    }
    return xpfo_heap_add_chunk(base, len) == 0;
}

static int grow(size_t bytes) {
    return add_secret_chunk(bytes);
}

/* ---- the operations ---- */

static unsigned char message[16 * 1024];
static unsigned char out[16 * 1024 + 64];
static EVP_PKEY *p256, *ed25519;
static EVP_MD_CTX *ecdsa_ctx, *ed_ctx;
static EVP_CIPHER *aes_gcm;
static EVP_CIPHER_CTX *aes_ctx;
static unsigned char aes_key[32], nonce[12];
static uint64_t nonce_counter;
static EVP_MAC_CTX *hmac_ctx;
static volatile size_t sink;

static int ecdsa_fresh(void) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t len = sizeof(out);
    int ok = c != NULL && EVP_DigestSignInit_ex(c, NULL, "SHA256", NULL, NULL, p256, NULL) == 1
            && EVP_DigestSign(c, out, &len, message, 32) == 1;
    EVP_MD_CTX_free(c);
    sink += len;
    return ok;
}

static int ecdsa_reused(void) {
    size_t len = sizeof(out);
    int ok = EVP_DigestSignInit_ex(ecdsa_ctx, NULL, NULL, NULL, NULL, NULL, NULL) == 1
            && EVP_DigestSignUpdate(ecdsa_ctx, message, 32) == 1 && EVP_DigestSignFinal(ecdsa_ctx, out, &len) == 1;
    sink += len;
    return ok;
}

static int ed25519_sign(void) {
    size_t len = sizeof(out);
    int ok = EVP_DigestSignInit_ex(ed_ctx, NULL, NULL, NULL, NULL, NULL, NULL) == 1
            && EVP_DigestSign(ed_ctx, out, &len, message, 32) == 1;
    sink += len;
    return ok;
}

static int aes_gcm_encrypt(size_t bytes) {
    nonce_counter++;
    memcpy(nonce, &nonce_counter, sizeof(nonce_counter));
    int len = 0, fin = 0;
    int ok = EVP_EncryptInit_ex2(aes_ctx, NULL, NULL, nonce, NULL) == 1
            && EVP_EncryptUpdate(aes_ctx, out, &len, message, (int)bytes) == 1
            && EVP_EncryptFinal_ex(aes_ctx, out + len, &fin) == 1
            && EVP_CIPHER_CTX_ctrl(aes_ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + len + fin) == 1;
    sink += (size_t)(len + fin);
    return ok;
}

static int aes_gcm_1k(void) { return aes_gcm_encrypt(1024); }
static int aes_gcm_16k(void) { return aes_gcm_encrypt(16 * 1024); }

static int hmac_sha256(void) {
    size_t len = 0;
    int ok = EVP_MAC_init(hmac_ctx, NULL, 0, NULL) == 1 && EVP_MAC_update(hmac_ctx, message, 1024) == 1
            && EVP_MAC_final(hmac_ctx, out, &len, sizeof(out)) == 1;
    sink += len;
    return ok;
}

static const struct op {
    const char *name;
    int (*run)(void);
} ops[] = {
    {"ecdsa_p256_sign_fresh", ecdsa_fresh},
    {"ecdsa_p256_sign_reused", ecdsa_reused},
    {"ed25519_sign", ed25519_sign},
    {"aes256_gcm_1k", aes_gcm_1k},
    {"aes256_gcm_16k", aes_gcm_16k},
    {"hmac_sha256_1k", hmac_sha256},
};

static int setup(void) {
    for (size_t i = 0; i < sizeof(message); i++) {
        message[i] = (unsigned char)(i * 31 + 7);
    }
    unsigned char hmac_key[32];
    OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end()};
    if (RAND_priv_bytes(aes_key, sizeof(aes_key)) != 1 || RAND_priv_bytes(hmac_key, sizeof(hmac_key)) != 1) {
        return 0;
    }
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ecdsa_ctx = EVP_MD_CTX_new();
    ed_ctx = EVP_MD_CTX_new();
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    aes_ctx = EVP_CIPHER_CTX_new();
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    hmac_ctx = hmac == NULL ? NULL : EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac); /* the context keeps its own reference */
    if (p256 == NULL || ed25519 == NULL || ecdsa_ctx == NULL || ed_ctx == NULL || aes_gcm == NULL || aes_ctx == NULL
            || hmac_ctx == NULL) {
        return 0;
    }
    /* The contexts are bound once; each operation then re-initialises them as the XPFO provider does. */
    return EVP_DigestSignInit_ex(ecdsa_ctx, NULL, "SHA256", NULL, NULL, p256, NULL) == 1
            && EVP_DigestSignInit_ex(ed_ctx, NULL, NULL, NULL, NULL, ed25519, NULL) == 1
            && EVP_EncryptInit_ex2(aes_ctx, aes_gcm, aes_key, nonce, NULL) == 1
            && EVP_MAC_init(hmac_ctx, hmac_key, sizeof(hmac_key), digest) == 1;
}

static const struct op *find(const char *name) {
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(ops[i].name, name) == 0) {
            return &ops[i];
        }
    }
    return NULL;
}

static int error(const char *what) {
    char reason[256] = "";
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
    }
    printf("error: %s%s%s\n", what, e != 0 ? ": " : "", reason);
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "xpfo_heap") != 0)
            || (argc == 3 && strcmp(argv[2], "count") != 0)) {
        fprintf(stderr, "usage: %s plain|xpfo_heap [count]\n", argv[0]);
        return 2;
    }
    xpfo_mode = strcmp(argv[1], "xpfo_heap") == 0;
    int counting = argc == 3;
    if (xpfo_mode && !add_secret_chunk(CHUNK_BYTES)) {
        return error("no secret memory for xpfo's allocator (memfd_secret needs secretmem.enable=1 and a memlock limit of 2 MiB)");
    }
    if (xpfo_mode) {
        xpfo_heap_set_grow(grow);
    }
    /* Before libcrypto's first allocation, as xpfo's CryptoHeap does; plain mode hooks only to count. */
    int set = 1;
    if (counting) {
        set = CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free);
    } else if (xpfo_mode) {
        set = CRYPTO_set_mem_functions(xpfo_heap_malloc, xpfo_heap_realloc, xpfo_heap_free);
    }
    if (set != 1) {
        return error("CRYPTO_set_mem_functions refused the allocator");
    }
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1 || !setup()) {
        return error("setting up keys and contexts");
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (!ops[i].run()) {
            return error(ops[i].name);
        }
    }
    printf("ready\n");
    fflush(stdout);

    char line[256], command[32], name[64];
    long long amount;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (sscanf(line, "%31s %63s %lld", command, name, &amount) != 3 || amount <= 0) {
            printf("error: bad command: %s", line);
            fflush(stdout);
            continue;
        }
        const struct op *op = find(name);
        if (op == NULL) {
            printf("error: no operation %s\n", name);
        } else if (strcmp(command, "calibrate") == 0) {
            long long start = now_ns(), budget = amount * 1000000LL, done = 0;
            while (now_ns() - start < budget) {
                if (!op->run()) {
                    return error(op->name);
                }
                done++;
            }
            printf("%lld\n", done);
        } else if (strcmp(command, "run") == 0) {
            unsigned long long m = mallocs, r = reallocs, f = frees;
            long long start = now_ns();
            for (long long i = 0; i < amount; i++) {
                if (!op->run()) {
                    return error(op->name);
                }
            }
            long long elapsed = now_ns() - start;
            printf("%lld %llu %llu %llu\n", elapsed, mallocs - m, reallocs - r, frees - f);
        } else {
            printf("error: bad command: %s", command);
        }
        fflush(stdout);
    }
    return 0;
}
