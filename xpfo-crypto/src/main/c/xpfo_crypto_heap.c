// SPDX-License-Identifier: Apache-2.0
/*
 * libcrypto's heap in secret memory: the allocator xpfo hands to CRYPTO_set_mem_functions.
 *
 * Memory comes only from chunks Java hands over (xpfo_heap_add_chunk): secret-memory regions of a
 * PagePool, out of the kernel's direct map, which are never unmapped while the process lives. There is
 * no fallback to libc's malloc: with no room and no way to grow, malloc returns NULL and libcrypto
 * reports a malloc failure.
 *
 * Why C and not a Java upcall: libcrypto frees memory from thread-exit destructors and after the JVM
 * has gone, where an upcall aborts the process. So free and realloc never call Java; only malloc's slow
 * path may ask Java for another chunk, through a callback Java clears at shutdown.
 *
 * Layout: blocks of 16 B .. 8 KiB (10 powers of two) carved
 * from 64 KiB runs, one LIFO free list and one lock per class; larger requests get page-rounded spans
 * on a first-fit free list kept in address order, neighbours merged. Every block starts with a 16-byte header; the free lists' links live in
 * the headers, so a freed block's contents are all zero (explicit_bzero on every free, of the bytes
 * the caller asked for: the rest of a block is never written and stays zero).
 *
 * No OpenSSL headers: the three signatures are libcrypto's CRYPTO_malloc_fn, CRYPTO_realloc_fn and
 * CRYPTO_free_fn (openssl/crypto.h).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CLASSES 10
#define MIN_SHIFT 4
#define MAX_SMALL ((size_t)16 << (CLASSES - 1))
#define RUN_BYTES ((size_t)64 * 1024)
#define PAGE ((size_t)4096)
#define MAX_ARENAS 64
#define LIVE 0x78706c76u /* "xplv" */
#define FREE 0x78706672u /* "xpfr" */
#define LARGE_BIT 0x80000000u

struct header {
    uint32_t magic;
    uint32_t cls;   /* a class index, or LARGE_BIT | pages of the whole span */
    union {
        struct header *next; /* the free list's link while free */
        size_t requested;    /* while live: what the caller may have written, wiped on free */
    };
};
_Static_assert(sizeof(struct header) == 16, "the header keeps blocks 16-byte aligned");

struct arena {
    char *base;
    size_t len;
    size_t used; /* bump offset, under arena_lock */
};

struct size_class {
    pthread_mutex_t lock;
    struct header *free_list;
    char *run;     /* the rest of the current run */
    char *run_end;
};

static struct arena arenas[MAX_ARENAS];
static _Atomic int arena_count;
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct header *large_free; /* in address order, under arena_lock */

static struct size_class classes[CLASSES];
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(int (*)(size_t)) grow;

static _Atomic size_t stat_arena_bytes;
static _Atomic size_t stat_in_use_bytes;
static _Atomic uint64_t stat_foreign_frees;
static _Atomic uint64_t stat_failed_mallocs;
static _Atomic uint64_t stat_grow_requests;

static void init_classes(void) {
    for (int i = 0; i < CLASSES; i++) {
        pthread_mutex_init(&classes[i].lock, NULL);
    }
}

static size_t class_capacity(uint32_t cls) {
    return (size_t)16 << cls;
}

static int class_of(size_t n) {
    int c = 0;
    while (class_capacity((uint32_t)c) < n) {
        c++;
    }
    return c;
}

static size_t capacity_of(const struct header *h) {
    if (h->cls & LARGE_BIT) {
        return (size_t)(h->cls & ~LARGE_BIT) * PAGE - sizeof(struct header);
    }
    return class_capacity(h->cls);
}

/* Bump-allocates `bytes` from any arena with room; NULL if none has. Caller holds arena_lock. */
static char *arena_take(size_t bytes) {
    int n = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (int i = n - 1; i >= 0; i--) {
        struct arena *a = &arenas[i];
        if (a->len - a->used >= bytes) {
            char *p = a->base + a->used;
            a->used += bytes;
            return p;
        }
    }
    return NULL;
}

/* The header of `p` if it is a live block of ours; NULL for anything else (never written). */
static struct header *own_live(void *p) {
    uintptr_t q = (uintptr_t)p;
    int n = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        uintptr_t base = (uintptr_t)arenas[i].base;
        if (q >= base + sizeof(struct header) && q < base + arenas[i].len && (q & 15) == 0) {
            struct header *h = (struct header *)(q - sizeof(struct header));
            if (h->magic != LIVE) {
                return NULL;
            }
            if (!(h->cls & LARGE_BIT) && h->cls >= CLASSES) {
                return NULL;
            }
            return h;
        }
    }
    return NULL;
}

/* Asks Java for a chunk of at least `bytes`; 1 if one was added. Only while the JVM runs. */
static int grow_by(size_t bytes, size_t arena_bytes_seen) {
    pthread_mutex_lock(&grow_lock);
    int ok;
    if (atomic_load(&stat_arena_bytes) != arena_bytes_seen) {
        ok = 1; /* another thread grew it meanwhile: try again */
    } else {
        int (*g)(size_t) = atomic_load(&grow);
        ok = 0;
        if (g != NULL) {
            atomic_fetch_add_explicit(&stat_grow_requests, 1, memory_order_relaxed);
            ok = g(bytes) == 1;
        }
    }
    pthread_mutex_unlock(&grow_lock);
    return ok;
}

static void *small_malloc(size_t n) {
    int c = class_of(n);
    struct size_class *sc = &classes[c];
    size_t block = class_capacity((uint32_t)c) + sizeof(struct header);
    for (;;) {
        size_t seen = atomic_load(&stat_arena_bytes);
        pthread_mutex_lock(&sc->lock);
        struct header *h = sc->free_list;
        if (h != NULL) {
            sc->free_list = h->next;
        } else {
            if (sc->run == NULL || (size_t)(sc->run_end - sc->run) < block) {
                pthread_mutex_lock(&arena_lock);
                size_t run = RUN_BYTES < block ? block : RUN_BYTES;
                char *r = arena_take(run);
                if (r == NULL) {
                    run = block;
                    r = arena_take(run);
                }
                pthread_mutex_unlock(&arena_lock);
                if (r != NULL) {
                    /* the rest of the old run is lost to this class: at most one block */
                    sc->run = r;
                    sc->run_end = r + run;
                }
            }
            if (sc->run != NULL && (size_t)(sc->run_end - sc->run) >= block) {
                h = (struct header *)sc->run;
                sc->run += block;
            }
        }
        pthread_mutex_unlock(&sc->lock);
        if (h != NULL) {
            h->magic = LIVE;
            h->cls = (uint32_t)c;
            h->requested = n;
            atomic_fetch_add_explicit(&stat_in_use_bytes, class_capacity((uint32_t)c), memory_order_relaxed);
            return h + 1;
        }
        if (!grow_by(RUN_BYTES, seen)) {
            return NULL;
        }
    }
}

static void *large_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(struct header) - PAGE) {
        return NULL;
    }
    size_t span = (n + sizeof(struct header) + PAGE - 1) & ~(PAGE - 1);
    if (span / PAGE >= LARGE_BIT) {
        return NULL;
    }
    for (;;) {
        size_t seen = atomic_load(&stat_arena_bytes);
        struct header *h = NULL;
        pthread_mutex_lock(&arena_lock);
        for (struct header **link = &large_free; *link != NULL; link = &(*link)->next) {
            struct header *f = *link;
            size_t have = (size_t)(f->cls & ~LARGE_BIT) * PAGE;
            if (have >= span) {
                *link = f->next;
                if (have > span) { /* split: the tail stays free (already zero), in f's place */
                    struct header *rest = (struct header *)((char *)f + span);
                    rest->magic = FREE;
                    rest->cls = LARGE_BIT | (uint32_t)((have - span) / PAGE);
                    rest->next = *link;
                    *link = rest;
                }
                h = f;
                break;
            }
        }
        if (h == NULL) {
            h = (struct header *)arena_take(span);
        }
        pthread_mutex_unlock(&arena_lock);
        if (h != NULL) {
            h->magic = LIVE;
            h->cls = LARGE_BIT | (uint32_t)(span / PAGE);
            h->requested = n;
            atomic_fetch_add_explicit(&stat_in_use_bytes, span - sizeof(struct header), memory_order_relaxed);
            return h + 1;
        }
        if (!grow_by(span, seen)) {
            return NULL;
        }
    }
}

static size_t span_bytes(const struct header *h) {
    return (size_t)(h->cls & ~LARGE_BIT) * PAGE;
}

/* The index of the arena holding `p`; -1 if none does. */
static int arena_of(const void *p) {
    uintptr_t q = (uintptr_t)p;
    int n = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (q >= (uintptr_t)arenas[i].base && q < (uintptr_t)arenas[i].base + arenas[i].len) {
            return i;
        }
    }
    return -1;
}

/* Absorbs `b`, which starts where `a` ends in the same arena, into `a`; b's header is wiped. */
static void large_merge(struct header *a, struct header *b) {
    a->cls = LARGE_BIT | (uint32_t)((span_bytes(a) + span_bytes(b)) / PAGE);
    a->next = b->next;
    explicit_bzero(b, sizeof(struct header));
}

/* Puts a wiped span on the large free list in address order, merged with its neighbours. Under arena_lock. */
static void large_insert(struct header *h) {
    struct header *prev = NULL;
    struct header **link = &large_free;
    while (*link != NULL && *link < h) {
        prev = *link;
        link = &(*link)->next;
    }
    h->next = *link;
    *link = h;
    int arena = arena_of(h);
    if (h->next != NULL && (char *)h + span_bytes(h) == (char *)h->next && arena_of(h->next) == arena) {
        large_merge(h, h->next);
    }
    if (prev != NULL && (char *)prev + span_bytes(prev) == (char *)h && arena_of(prev) == arena) {
        large_merge(prev, h);
    }
}

/* CRYPTO_malloc_fn. malloc(0) is NULL: libcrypto's custom path allows it. */
void *xpfo_heap_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    if (n == 0) {
        return NULL;
    }
    pthread_once(&classes_once, init_classes);
    void *p = n <= MAX_SMALL ? small_malloc(n) : large_malloc(n);
    if (p == NULL) {
        atomic_fetch_add_explicit(&stat_failed_mallocs, 1, memory_order_relaxed);
    }
    return p;
}

static void release(struct header *h) {
    size_t capacity = capacity_of(h);
    explicit_bzero(h + 1, h->requested);
    atomic_fetch_sub_explicit(&stat_in_use_bytes, capacity, memory_order_relaxed);
    if (h->cls & LARGE_BIT) {
        pthread_mutex_lock(&arena_lock);
        h->magic = FREE;
        large_insert(h);
        pthread_mutex_unlock(&arena_lock);
    } else {
        struct size_class *sc = &classes[h->cls];
        pthread_mutex_lock(&sc->lock);
        h->magic = FREE;
        h->next = sc->free_list;
        sc->free_list = h;
        pthread_mutex_unlock(&sc->lock);
    }
}

/* CRYPTO_free_fn. Never calls Java. A pointer that is not a live block of ours is counted, not touched. */
void xpfo_heap_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    if (p == NULL) {
        return;
    }
    struct header *h = own_live(p);
    if (h == NULL) {
        atomic_fetch_add_explicit(&stat_foreign_frees, 1, memory_order_relaxed);
        return;
    }
    release(h);
}

/* CRYPTO_realloc_fn: NULL -> malloc; 0 -> free and NULL; fits -> same block (tail wiped). */
void *xpfo_heap_realloc(void *p, size_t n, const char *file, int line) {
    if (p == NULL) {
        return xpfo_heap_malloc(n, file, line);
    }
    if (n == 0) {
        xpfo_heap_free(p, file, line);
        return NULL;
    }
    struct header *h = own_live(p);
    if (h == NULL) {
        atomic_fetch_add_explicit(&stat_foreign_frees, 1, memory_order_relaxed);
        return NULL;
    }
    if (n <= capacity_of(h)) {
        if (n < h->requested) {
            explicit_bzero((char *)p + n, h->requested - n);
        }
        h->requested = n;
        return p;
    }
    void *q = xpfo_heap_malloc(n, file, line);
    if (q == NULL) {
        return NULL; /* the old block stays valid, as realloc promises */
    }
    memcpy(q, p, h->requested);
    release(h);
    return q;
}

/*
 * Hands a chunk to the allocator for good: page-aligned, populated secret memory that is never
 * unmapped while the process lives. 0 on success, -1 if the table is full or the chunk is unusable.
 */
int xpfo_heap_add_chunk(void *base, size_t len) {
    if (base == NULL || ((uintptr_t)base & (PAGE - 1)) != 0 || len < PAGE) {
        return -1;
    }
    pthread_once(&classes_once, init_classes);
    pthread_mutex_lock(&arena_lock);
    int n = atomic_load_explicit(&arena_count, memory_order_relaxed);
    if (n == MAX_ARENAS) {
        pthread_mutex_unlock(&arena_lock);
        return -1;
    }
    arenas[n].base = base;
    arenas[n].len = len & ~(PAGE - 1);
    arenas[n].used = 0;
    atomic_store_explicit(&arena_count, n + 1, memory_order_release);
    atomic_fetch_add(&stat_arena_bytes, arenas[n].len);
    pthread_mutex_unlock(&arena_lock);
    return 0;
}

/* The callback malloc's slow path calls for another chunk (returns 1 if it added one); NULL clears it. */
void xpfo_heap_set_grow(int (*g)(size_t)) {
    /* no waiting for a thread inside the old callback: at shutdown that could hang the JVM's exit */
    atomic_store(&grow, g);
}

size_t xpfo_heap_arena_bytes(void) { return atomic_load(&stat_arena_bytes); }
size_t xpfo_heap_in_use_bytes(void) { return atomic_load(&stat_in_use_bytes); }
uint64_t xpfo_heap_foreign_frees(void) { return atomic_load(&stat_foreign_frees); }
uint64_t xpfo_heap_failed_mallocs(void) { return atomic_load(&stat_failed_mallocs); }
uint64_t xpfo_heap_grow_requests(void) { return atomic_load(&stat_grow_requests); }
