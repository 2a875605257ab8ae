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
 * Frees race safely: a block leaves LIVE by one compare-and-swap of its header's magic, so of two
 * threads freeing the same block exactly one wipes and lists it; the other is counted as a foreign free
 * and touches nothing (a double free would otherwise list the block twice and hand it to two owners).
 * What no allocator can catch from the pointer alone: a second free that arrives after the block was
 * handed out again looks like its new owner's free.
 *
 * Growing (the grow protocol): malloc's slow path asks Java for a chunk through an upcall stub, holding
 * no lock: free and other mallocs never wait for Java, and an upcall that itself allocates cannot
 * deadlock. A caller first announces itself (grow_callers++), then loads the callback, calls it, and
 * leaves (grow_callers--). xpfo_heap_close_grow (Java's shutdown hook) clears the callback and then
 * waits until grow_callers is 0: every thread that loaded the old pointer has returned from Java before
 * the JVM goes, and every later caller loads NULL (both sides are sequentially consistent, so a caller
 * whose announcement the closer did not see must see the NULL). After that a malloc with no free block
 * and no arena room returns NULL, libcrypto reports a malloc failure: never libc's malloc.
 * Ahead of need: when the arenas' uncarved bytes fall below a low watermark, malloc writes to an eventfd
 * (no Java, no lock) and a Java thread blocked in xpfo_heap_await_refill adds a chunk, so the upcall
 * stays the last resort.
 *
 * Exiting threads: libcrypto frees (and may allocate) from its thread-specific data destructor, after
 * the JVM has detached the thread, where an upcall aborts the process ("Could not attach thread for
 * upcall"). Each allocating thread registers a destructor of its own (a pthread key created at the first
 * chunk or malloc, before OPENSSL_init_crypto creates libcrypto's key: glibc runs destructors in key
 * order, so ours runs first); from then on that thread's mallocs never call Java, they use what is left
 * or get NULL.
 *
 * fork(): the child inherits the locks as they were; pthread_atfork handlers take every lock around
 * fork and, in the child (which has no JVM threads), clear the callback and the refill and forget every
 * arena: the chunks are MADV_DONTFORK secret memory, absent in the child. So in a forked child malloc
 * returns NULL (libcrypto in the child reports malloc failures: it is not usable there, by design: the
 * keys are not there either) and free/realloc of the parent's pointers are counted as foreign frees,
 * never read. A JVM starts processes with posix_spawn/vfork + exec (Runtime.exec, ProcessBuilder), which
 * runs no libcrypto in between: unaffected.
 *
 * Limits: the table holds 65,536 chunks; what bounds the heap is the memlock limit (RLIMIT_MEMLOCK, each
 * chunk is locked secret memory) and the maximum Java sets (xpfo_heap_set_max_bytes). At either, malloc
 * returns NULL and libcrypto reports a malloc failure.
 *
 * No OpenSSL headers: the three signatures are libcrypto's CRYPTO_malloc_fn, CRYPTO_realloc_fn and
 * CRYPTO_free_fn (openssl/crypto.h).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define CLASSES 10
#define MIN_SHIFT 4
#define MAX_SMALL ((size_t)16 << (CLASSES - 1))
#define RUN_BYTES ((size_t)64 * 1024)
#define PAGE ((size_t)4096)
/*
 * The arena table: 65,536 entries (about 1.5 MiB of ordinary memory holding addresses and lengths only,
 * no key material; only the pages of entries in use are ever touched). It is never reallocated, so
 * free() and realloc() read it without a lock while chunks are added. The table is not what bounds the
 * heap: with 2 MiB chunks it would hold 128 GiB. The bound is the memlock limit (each chunk is locked
 * secret memory) and the maximum Java sets (xpfo_heap_set_max_bytes).
 */
#define MAX_ARENAS 65536
/*
 * Finding a pointer's arena without scanning the table: a two-level index from 2 MiB granules of the
 * address space to the (at most two) arenas of 2 MiB or more overlapping each granule. A granule that
 * more (smaller) arenas share falls back to a scan of the table. The index only hints: every hit is
 * range-checked against the table. Its leaves are ordinary anonymous memory (arena indices only).
 */
#define GRANULE_SHIFT 21
#define LEAF_BITS 13
#define ROOT_BITS 14 /* 2^(21+13+14) = 2^48: the whole user address space of x86_64 and aarch64 (4-level) */
#define SLOTS 2
#define LIVE 0x78706c76u /* "xplv" */
#define FREE 0x78706672u /* "xpfr" */
#define LARGE_BIT 0x80000000u

struct header {
    _Atomic uint32_t magic; /* LIVE -> FREE by compare-and-swap only: one free wins */
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
static _Atomic size_t max_arena_bytes; /* 0: no maximum; add_chunk refuses a chunk past it */

/* index_root[g >> LEAF_BITS][g & mask][slot] = arena index + 1 (0: empty); written under arena_lock */
typedef _Atomic uint32_t index_leaf[(size_t)1 << LEAF_BITS][SLOTS];
static index_leaf *_Atomic index_root[(size_t)1 << ROOT_BITS];

static struct size_class classes[CLASSES];
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

typedef int (*grow_fn)(size_t bytes, size_t arena_bytes_seen);
static _Atomic(grow_fn) grow;
static _Atomic unsigned grow_callers; /* threads between announcing an upcall and returning from it */
static _Atomic int grow_closed;       /* set for good by xpfo_heap_close_grow (and in a forked child) */

static _Atomic size_t low_watermark;  /* 0: no refill ahead */
static _Atomic int refill_fd = -1;    /* an eventfd Java's refill thread reads */
static _Atomic int refill_pending;    /* one wake-up outstanding */

static _Atomic size_t stat_arena_bytes;
static _Atomic size_t stat_in_use_bytes;
static _Atomic uint64_t stat_foreign_frees;
static _Atomic uint64_t stat_failed_mallocs;
static _Atomic uint64_t stat_grow_requests;
static _Atomic size_t stat_carved_bytes; /* bump-allocated from the arenas, under arena_lock */

/* This thread: 0 not seen, 1 allocating (exit destructor registered), 2 exiting (destructors running). */
static _Thread_local int thread_phase;
static pthread_key_t exit_key;

static void thread_exiting(void *unused) {
    (void)unused;
    thread_phase = 2;
}

static void fork_prepare(void) {
    for (int i = 0; i < CLASSES; i++) {
        pthread_mutex_lock(&classes[i].lock);
    }
    pthread_mutex_lock(&arena_lock); /* the order malloc takes them in: class, then arena */
}

static void fork_parent(void) {
    pthread_mutex_unlock(&arena_lock);
    for (int i = CLASSES - 1; i >= 0; i--) {
        pthread_mutex_unlock(&classes[i].lock);
    }
}

static void fork_child(void) {
    /* no JVM threads here: never call the upcall stub or wait for a refill thread */
    atomic_store(&grow_closed, 1);
    atomic_store(&grow, NULL);
    atomic_store(&grow_callers, 0);
    atomic_store(&low_watermark, 0);
    /*
     * Forget every arena: the parent's chunks are MADV_DONTFORK secret memory, absent in this process, so
     * touching a header or a free-list link would fault. With no arenas, malloc returns NULL (libcrypto
     * reports a malloc failure) and free of a parent's pointer is counted as foreign without reading it.
     * The index's leaves are ordinary memory the child has; their entries now name no arena.
     */
    atomic_store(&arena_count, 0);
    large_free = NULL;
    for (int i = 0; i < CLASSES; i++) {
        classes[i].free_list = NULL;
        classes[i].run = NULL;
        classes[i].run_end = NULL;
    }
    atomic_store(&stat_arena_bytes, 0);
    atomic_store(&stat_carved_bytes, 0);
    atomic_store(&stat_in_use_bytes, 0);
    fork_parent();
}

static void init_classes(void) {
    for (int i = 0; i < CLASSES; i++) {
        pthread_mutex_init(&classes[i].lock, NULL);
    }
    pthread_key_create(&exit_key, thread_exiting);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
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
            atomic_fetch_add_explicit(&stat_carved_bytes, bytes, memory_order_relaxed);
            return p;
        }
    }
    return NULL;
}

/* The header of `p` if it is a live block of ours; NULL for anything else (never written). */
static int arena_of(const void *p);

static struct header *own_live(void *p) {
    uintptr_t q = (uintptr_t)p;
    int i = arena_of(p);
    if (i < 0 || q < (uintptr_t)arenas[i].base + sizeof(struct header) || (q & 15) != 0) {
        return NULL; /* in no arena we know (nothing is read there), or no block can start there */
    }
    struct header *h = (struct header *)(q - sizeof(struct header));
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != LIVE) {
        return NULL;
    }
    if (!(h->cls & LARGE_BIT) && h->cls >= CLASSES) {
        return NULL;
    }
    return h;
}

/* Arena bytes not carved yet (free-list blocks not counted): what the low watermark watches. */
static size_t unused_bytes(void) {
    size_t carved = atomic_load(&stat_carved_bytes); /* first: it only grows, and never past the arenas */
    size_t arena = atomic_load(&stat_arena_bytes);
    return arena > carved ? arena - carved : 0;
}

/* Wakes Java's refill thread once when the uncarved bytes are below the low watermark. No Java, no lock. */
static void maybe_refill(void) {
    size_t mark = atomic_load_explicit(&low_watermark, memory_order_relaxed);
    if (mark == 0 || unused_bytes() >= mark) {
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&refill_pending, &expected, 1)) {
        return;
    }
    int fd = atomic_load(&refill_fd);
    uint64_t one = 1;
    int saved = errno; /* a malloc that succeeds leaves errno as it was */
    if (fd < 0 || write(fd, &one, sizeof one) != (ssize_t)sizeof one) {
        atomic_store(&refill_pending, 0); /* nobody to wake: the upcall stays the way to grow */
    }
    errno = saved;
}

/*
 * Asks Java for a chunk of at least `bytes`; 1 if the heap grew (by this call or another thread since
 * `arena_bytes_seen`). Holds no lock. See the grow protocol at the top: announce, load, call, leave.
 */
static int grow_by(size_t bytes, size_t arena_bytes_seen) {
    if (atomic_load(&stat_arena_bytes) != arena_bytes_seen) {
        return 1; /* another thread or the refill thread grew it meanwhile: try again */
    }
    if (thread_phase == 2) {
        return 0; /* an exiting thread: the JVM has let go of it, an upcall would abort */
    }
    atomic_fetch_add(&grow_callers, 1);
    grow_fn g = atomic_load(&grow);
    int ok = 0;
    if (g != NULL) {
        atomic_fetch_add_explicit(&stat_grow_requests, 1, memory_order_relaxed);
        ok = g(bytes, arena_bytes_seen) == 1;
    }
    atomic_fetch_sub(&grow_callers, 1);
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
        int carved = 0;
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
                carved = 1;
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
        if (carved) {
            maybe_refill();
        }
        if (h != NULL) {
            h->cls = (uint32_t)c;
            h->requested = n;
            atomic_store_explicit(&h->magic, LIVE, memory_order_release);
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
        maybe_refill();
        if (h != NULL) {
            h->cls = LARGE_BIT | (uint32_t)(span / PAGE);
            h->requested = n;
            atomic_store_explicit(&h->magic, LIVE, memory_order_release);
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

static int in_arena(uintptr_t q, int i) {
    return q >= (uintptr_t)arenas[i].base && q < (uintptr_t)arenas[i].base + arenas[i].len;
}

/*
 * The index of the arena holding `p`; -1 if none does. Lock-free: the table is never moved, and an
 * index slot is stored (release) after its arena's entry is written. Entries past arena_count (a forked
 * child forgot them) are ignored.
 */
static int arena_of(const void *p) {
    uintptr_t q = (uintptr_t)p;
    uintptr_t g = q >> GRANULE_SHIFT;
    if ((g >> LEAF_BITS) < ((uintptr_t)1 << ROOT_BITS)) {
        index_leaf *leaf = atomic_load_explicit(&index_root[g >> LEAF_BITS], memory_order_acquire);
        if (leaf != NULL) {
            int full = 1;
            for (int s = 0; s < SLOTS; s++) {
                uint32_t e = atomic_load_explicit(&(*leaf)[g & (((uintptr_t)1 << LEAF_BITS) - 1)][s], memory_order_acquire);
                if (e == 0) {
                    full = 0;
                    continue;
                }
                int i = (int)e - 1;
                if (i < atomic_load_explicit(&arena_count, memory_order_acquire) && in_arena(q, i)) {
                    return i;
                }
            }
            if (!full) {
                return -1; /* every arena overlapping this granule has a slot: p is in none */
            }
        }
    }
    int n = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (int i = n - 1; i >= 0; i--) {
        if (in_arena(q, i)) {
            return i;
        }
    }
    return -1;
}

/* Records arena i in the index of every granule it overlaps. Under arena_lock; -1 if a leaf cannot be mapped. */
static int index_arena(int i) {
    uintptr_t first = (uintptr_t)arenas[i].base >> GRANULE_SHIFT;
    uintptr_t last = ((uintptr_t)arenas[i].base + arenas[i].len - 1) >> GRANULE_SHIFT;
    for (uintptr_t g = first; g <= last; g++) {
        if ((g >> LEAF_BITS) >= ((uintptr_t)1 << ROOT_BITS)) {
            return 0; /* beyond the index: found by the scan */
        }
        index_leaf *leaf = atomic_load_explicit(&index_root[g >> LEAF_BITS], memory_order_relaxed);
        if (leaf == NULL) {
            void *m = mmap(NULL, sizeof(index_leaf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                return -1;
            }
            leaf = m;
            atomic_store_explicit(&index_root[g >> LEAF_BITS], leaf, memory_order_release);
        }
        _Atomic uint32_t *slots = (*leaf)[g & (((uintptr_t)1 << LEAF_BITS) - 1)];
        int n = atomic_load_explicit(&arena_count, memory_order_relaxed);
        for (int s = 0; s < SLOTS; s++) {
            uint32_t e = atomic_load_explicit(&slots[s], memory_order_relaxed);
            if (e == 0 || (int)e - 1 >= n) { /* empty, or left from arenas a forked child forgot */
                atomic_store_explicit(&slots[s], (uint32_t)i + 1, memory_order_release);
                break;
            }
        }
        /* both slots taken: pointers here are found by the scan, and a lookup never stops at this granule */
    }
    return 0;
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
    if (thread_phase == 0) {
        thread_phase = 1;
        pthread_setspecific(exit_key, &exit_key); /* any non-NULL value: glibc then calls thread_exiting */
    }
    void *p = n <= MAX_SMALL ? small_malloc(n) : large_malloc(n);
    if (p == NULL) {
        atomic_fetch_add_explicit(&stat_failed_mallocs, 1, memory_order_relaxed);
    }
    return p;
}

/* Takes a live block for freeing: 1 for exactly one caller; 0 if it was not live (a double free). */
static int claim(struct header *h) {
    uint32_t live = LIVE;
    return atomic_compare_exchange_strong(&h->magic, &live, FREE);
}

/* Wipes a block this thread claimed and puts it on its free list. */
static void release(struct header *h) {
    size_t capacity = capacity_of(h);
    explicit_bzero(h + 1, h->requested);
    atomic_fetch_sub_explicit(&stat_in_use_bytes, capacity, memory_order_relaxed);
    if (h->cls & LARGE_BIT) {
        pthread_mutex_lock(&arena_lock);
        large_insert(h);
        pthread_mutex_unlock(&arena_lock);
    } else {
        struct size_class *sc = &classes[h->cls];
        pthread_mutex_lock(&sc->lock);
        h->next = sc->free_list;
        sc->free_list = h;
        pthread_mutex_unlock(&sc->lock);
    }
}

/*
 * CRYPTO_free_fn. Never calls Java, takes no lock Java holds: works from thread-exit destructors and after
 * the JVM is gone. A pointer that is not a live block of ours (foreign, or freed already, even by a
 * thread freeing it at the same moment) is counted, not touched.
 */
void xpfo_heap_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    if (p == NULL) {
        return;
    }
    struct header *h = own_live(p);
    if (h == NULL || !claim(h)) {
        atomic_fetch_add(&stat_foreign_frees, 1);
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
        atomic_fetch_add(&stat_foreign_frees, 1);
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
    if (!claim(h)) { /* freed by another thread meanwhile: the caller's bug; leave it to that free */
        atomic_fetch_add(&stat_foreign_frees, 1);
        return q;
    }
    release(h);
    return q;
}

/*
 * Hands a chunk to the allocator for good: page-aligned, populated secret memory that is never
 * unmapped while the process lives. 0 on success, -1 if the chunk is unusable, would take the heap past
 * its maximum (xpfo_heap_set_max_bytes), or the table of 65,536 chunks is full.
 */
int xpfo_heap_add_chunk(void *base, size_t len) {
    if (base == NULL || ((uintptr_t)base & (PAGE - 1)) != 0 || len < PAGE) {
        return -1;
    }
    pthread_once(&classes_once, init_classes);
    len &= ~(PAGE - 1);
    pthread_mutex_lock(&arena_lock);
    int n = atomic_load_explicit(&arena_count, memory_order_relaxed);
    size_t max = atomic_load(&max_arena_bytes);
    if (n == MAX_ARENAS || (max != 0 && atomic_load(&stat_arena_bytes) + len > max)) {
        pthread_mutex_unlock(&arena_lock);
        return -1;
    }
    arenas[n].base = base;
    arenas[n].len = len;
    arenas[n].used = 0;
    if (index_arena(n) != 0) {
        pthread_mutex_unlock(&arena_lock);
        return -1;
    }
    atomic_store_explicit(&arena_count, n + 1, memory_order_release);
    atomic_fetch_add(&stat_arena_bytes, arenas[n].len);
    pthread_mutex_unlock(&arena_lock);
    maybe_refill(); /* still below the watermark (a chunk smaller than it): ask again */
    return 0;
}

/*
 * Sets the most arena bytes the heap may hold (0: no maximum): add_chunk refuses a chunk past it, so malloc
 * then returns NULL. Chunks already added stay. What bounds the heap from above besides the memlock limit.
 */
void xpfo_heap_set_max_bytes(size_t bytes) {
    atomic_store(&max_arena_bytes, bytes);
}

size_t xpfo_heap_max_bytes(void) { return atomic_load(&max_arena_bytes); }
int xpfo_heap_arena_count(void) { return atomic_load(&arena_count); }

/*
 * The callback malloc's slow path calls for another chunk: int g(size_t bytes, size_t arena_bytes_seen),
 * 1 if the heap grew. 0 on success, -1 if NULL or after xpfo_heap_close_grow (growing stays closed).
 */
int xpfo_heap_set_grow(grow_fn g) {
    if (g == NULL || atomic_load(&grow_closed)) {
        return -1;
    }
    atomic_store(&grow, g);
    if (atomic_load(&grow_closed)) { /* closed meanwhile: the closer may not have seen g */
        atomic_store(&grow, NULL);
        return -1;
    }
    return 0;
}

/*
 * Closes growing for good: clears the callback, then waits until no thread is between loading it and
 * returning from it. After this returns no thread enters the upcall stub again (so none can call it
 * after the JVM has gone). Call it from a Java thread, never from inside the callback.
 */
void xpfo_heap_close_grow(void) {
    atomic_store(&grow_closed, 1);
    atomic_store(&grow, NULL);
    while (atomic_load(&grow_callers) != 0) {
        sched_yield();
    }
}

/*
 * Turns on refill ahead of need: when the uncarved arena bytes fall below `bytes`, malloc wakes the
 * thread blocked in xpfo_heap_await_refill. 0, or -1 with errno if eventfd fails.
 */
int xpfo_heap_set_low_watermark(size_t bytes) {
    pthread_once(&classes_once, init_classes);
    if (atomic_load(&refill_fd) < 0) {
        int fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0) {
            return -1;
        }
        int none = -1;
        if (!atomic_compare_exchange_strong(&refill_fd, &none, fd)) {
            close(fd);
        }
    }
    atomic_store(&low_watermark, bytes);
    maybe_refill();
    return 0;
}

/*
 * Blocks until malloc asks for a refill (the uncarved bytes fell below the low watermark). 1 then (the
 * request is taken: a later fall below asks again), -1 with errno if there is no watermark or read fails.
 */
int xpfo_heap_await_refill(void) {
    int fd = atomic_load(&refill_fd);
    if (fd < 0) {
        errno = EINVAL;
        return -1;
    }
    uint64_t count;
    ssize_t got;
    do {
        got = read(fd, &count, sizeof count);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof count) {
        return -1;
    }
    atomic_store(&refill_pending, 0);
    return 1;
}

size_t xpfo_heap_arena_bytes(void) { return atomic_load(&stat_arena_bytes); }
size_t xpfo_heap_in_use_bytes(void) { return atomic_load(&stat_in_use_bytes); }
uint64_t xpfo_heap_foreign_frees(void) { return atomic_load(&stat_foreign_frees); }
uint64_t xpfo_heap_failed_mallocs(void) { return atomic_load(&stat_failed_mallocs); }
uint64_t xpfo_heap_grow_requests(void) { return atomic_load(&stat_grow_requests); }
size_t xpfo_heap_unused_bytes(void) { return unused_bytes(); }
size_t xpfo_heap_low_watermark(void) { return atomic_load(&low_watermark); }
