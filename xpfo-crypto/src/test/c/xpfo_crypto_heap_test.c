// SPDX-License-Identifier: Apache-2.0
/*
 * Races and process edges of libcrypto's allocator that need threads or fork() without a JVM:
 * concurrent double frees, a grow callback that allocates, fork(), thread-exit destructors that
 * allocate, closing growth, refill ahead.
 * Compiled together with xpfo_crypto_heap.c and run by dev.xpfo.crypto.heap.NativeHeapTest (also under
 * -fsanitize=thread and -fsanitize=address,undefined). Prints "ok NAME" per case and
 * exits 0; any failure prints "FAIL NAME: why" and exits 1. Chunks are made as production makes them:
 * secret memory (memfd_secret, ordinary shared memory where the kernel has none), MAP_SHARED and
 * MADV_DONTFORK, so they are absent in a forked child, as the PagePool's are. The case with more than
 * 64 chunks uses ordinary anonymous memory (tens of MiB, more than a memlock limit may allow).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void *xpfo_heap_malloc(size_t n, const char *file, int line);
void *xpfo_heap_realloc(void *p, size_t n, const char *file, int line);
void xpfo_heap_free(void *p, const char *file, int line);
int xpfo_heap_add_chunk(void *base, size_t len);
int xpfo_heap_set_grow(int (*g)(size_t, size_t));
void xpfo_heap_close_grow(void);
size_t xpfo_heap_in_use_bytes(void);
uint64_t xpfo_heap_foreign_frees(void);
uint64_t xpfo_heap_grow_requests(void);
int xpfo_heap_set_low_watermark(size_t bytes);
int xpfo_heap_await_refill(void);
size_t xpfo_heap_unused_bytes(void);
size_t xpfo_heap_arena_bytes(void);
void xpfo_heap_set_max_bytes(size_t bytes);
int xpfo_heap_arena_count(void);

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#define CHUNK ((size_t)2 << 20)

static void fail(const char *name, const char *why) {
    printf("FAIL %s: %s\n", name, why);
    fflush(stdout);
    exit(1);
}

static const char *chunk_kind = "memfd_secret";

/* A chunk as CryptoHeap gets it from a PagePool: secret memory, MAP_SHARED, populated, MADV_DONTFORK. */
static void *chunk(size_t bytes) {
    void *p = MAP_FAILED;
    int fd = (int)syscall(SYS_memfd_secret, 0);
    if (fd >= 0 && ftruncate(fd, (off_t)bytes) == 0) {
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (p == MAP_FAILED) {
        chunk_kind = "shared anonymous"; /* no secretmem here (or the memlock limit): the same for fork */
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    }
    if (p == MAP_FAILED || madvise(p, bytes, MADV_DONTFORK) != 0) {
        fail("setup", "mmap or madvise(MADV_DONTFORK)");
    }
    return p;
}

static void add(size_t bytes) {
    if (xpfo_heap_add_chunk(chunk(bytes), bytes) != 0) {
        fail("setup", "add_chunk");
    }
}

/* ---- two threads free the same block at once: exactly one wins ---- */
static void *_Atomic target;
static _Atomic int go;
static _Atomic int done;

static void *double_freer(void *unused) {
    (void)unused;
    for (int round = 1;; round++) {
        while (atomic_load(&go) < round) {
            if (atomic_load(&done)) {
                return NULL;
            }
        }
        xpfo_heap_free(atomic_load(&target), NULL, 0);
        atomic_fetch_add(&go, 0); /* keep the loop honest under -O2 */
    }
}

static void concurrent_double_frees(void) {
    const char *name = "concurrent double frees";
    const int rounds = 20000;
    size_t in_use = xpfo_heap_in_use_bytes();
    uint64_t foreign = xpfo_heap_foreign_frees();
    pthread_t other;
    pthread_create(&other, NULL, double_freer, NULL);
    for (int round = 1; round <= rounds; round++) {
        void *p = xpfo_heap_malloc(4000, NULL, 0);
        if (p == NULL) {
            fail(name, "malloc returned NULL");
        }
        memset(p, 0x5a, 4000);
        atomic_store(&target, p);
        atomic_store(&go, round); /* the other thread frees p now, and so does this one */
        xpfo_heap_free(p, NULL, 0);
        while (xpfo_heap_foreign_frees() - foreign < (uint64_t)round) {
            /* wait for the other free to finish: one of the two must have been refused */
            size_t now = xpfo_heap_in_use_bytes();
            if (now != in_use && now != in_use + 4096) {
                fail(name, "the block was released twice (bytes in use fell below the start)");
            }
        }
        if (xpfo_heap_foreign_frees() - foreign != (uint64_t)round) {
            fail(name, "both frees of one block were refused or both accepted");
        }
    }
    atomic_store(&done, 1);
    pthread_join(other, NULL);
    if (xpfo_heap_in_use_bytes() != in_use) {
        fail(name, "bytes in use differ from the start");
    }
    /* a block listed twice would now be handed out twice */
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = xpfo_heap_malloc(4000, NULL, 0);
        for (int j = 0; j < i; j++) {
            if (blocks[j] == blocks[i]) {
                fail(name, "one block handed out twice");
            }
        }
    }
    for (int i = 0; i < 64; i++) {
        xpfo_heap_free(blocks[i], NULL, 0);
    }
    printf("ok %s (%d rounds)\n", name, rounds);
}

/* ---- the grow callback may allocate itself (no lock held across it) ---- */
static _Atomic int grow_calls;
static _Atomic int nested_ok;

static int nesting_grow(size_t bytes, size_t seen) {
    (void)seen;
    if (atomic_fetch_add(&grow_calls, 1) == 0) {
        /* the Java side allocating through libcrypto while growing: needs a grow of its own */
        void *p = xpfo_heap_malloc(3 * CHUNK, NULL, 0);
        atomic_store(&nested_ok, p != NULL);
        xpfo_heap_free(p, NULL, 0);
    }
    size_t want = bytes < CHUNK ? CHUNK : (bytes + CHUNK - 1) / CHUNK * CHUNK;
    add(want);
    return 1;
}

static void grow_callback_may_allocate(void) {
    const char *name = "grow callback that allocates";
    alarm(20); /* a deadlock here ends the test with SIGALRM */
    xpfo_heap_set_grow(nesting_grow);
    void *p = xpfo_heap_malloc(2 * CHUNK, NULL, 0); /* bigger than any arena: must grow */
    alarm(0);
    if (p == NULL || !atomic_load(&nested_ok)) {
        fail(name, "an allocation failed");
    }
    xpfo_heap_free(p, NULL, 0);
    printf("ok %s\n", name);
}

/* ---- a thread's exit destructors allocating: never a call into Java (the JVM has let go of the thread) ---- */
static pthread_key_t late_key;
static _Atomic int exit_grow_calls;
static void *_Atomic exit_block = (void *)1;

static int exit_counting_grow(size_t bytes, size_t seen) {
    (void)bytes;
    (void)seen;
    atomic_fetch_add(&exit_grow_calls, 1);
    return 0;
}

static void late_destructor(void *unused) {
    (void)unused;
    /* what libcrypto's thread-stop destructor does, needing a chunk */
    atomic_store(&exit_block, xpfo_heap_malloc(16 * CHUNK, NULL, 0));
}

static void *exiting_thread(void *unused) {
    (void)unused;
    xpfo_heap_free(xpfo_heap_malloc(100, NULL, 0), NULL, 0);
    pthread_setspecific(late_key, &late_key);
    return NULL;
}

static void thread_exit_never_calls_java(void) {
    const char *name = "exiting threads never call the callback";
    /* created after the allocator's key, as libcrypto's is */
    pthread_key_create(&late_key, late_destructor);
    xpfo_heap_set_grow(exit_counting_grow);
    pthread_t t;
    pthread_create(&t, NULL, exiting_thread, NULL);
    pthread_join(t, NULL);
    if (atomic_load(&exit_block) != NULL || atomic_load(&exit_grow_calls) != 0) {
        fail(name, "the callback was called from a thread-exit destructor");
    }
    printf("ok %s\n", name);
}

/* ---- closing waits for a thread inside the callback, and no thread calls it afterwards ---- */
static _Atomic int in_callback;
static _Atomic int release_callback;
static _Atomic int closed_returned;
static _Atomic int calls_after_close;

static int blocking_grow(size_t bytes, size_t seen) {
    (void)seen;
    if (atomic_load(&closed_returned)) {
        atomic_fetch_add(&calls_after_close, 1);
    }
    atomic_store(&in_callback, 1);
    while (!atomic_load(&release_callback)) {
        usleep(1000);
    }
    add(bytes < CHUNK ? CHUNK : (bytes + CHUNK - 1) / CHUNK * CHUNK);
    return 1;
}

static void *grower(void *unused) {
    (void)unused;
    return xpfo_heap_malloc(5 * CHUNK, NULL, 0);
}

static void *closer(void *unused) {
    (void)unused;
    xpfo_heap_close_grow();
    atomic_store(&closed_returned, 1);
    return NULL;
}

static void close_waits_for_callers(void) {
    const char *name = "closing waits for the callback";
    xpfo_heap_set_grow(blocking_grow);
    pthread_t g, c;
    pthread_create(&g, NULL, grower, NULL);
    while (!atomic_load(&in_callback)) {
        usleep(1000);
    }
    pthread_create(&c, NULL, closer, NULL);
    usleep(200 * 1000); /* gives a closer that does not wait the time to return (it must not) */
    if (atomic_load(&closed_returned)) {
        fail(name, "close returned while a thread was inside the callback");
    }
    atomic_store(&release_callback, 1);
    void *p;
    pthread_join(g, &p);
    pthread_join(c, NULL);
    if (p == NULL || !atomic_load(&closed_returned)) {
        fail(name, "the allocation in flight failed or close never returned");
    }
    xpfo_heap_free(p, NULL, 0);
    uint64_t requests = xpfo_heap_grow_requests();
    if (xpfo_heap_malloc(6 * CHUNK, NULL, 0) != NULL) {
        fail(name, "an allocation needing a chunk succeeded after close");
    }
    if (xpfo_heap_grow_requests() != requests || atomic_load(&calls_after_close) != 0) {
        fail(name, "the callback was called after close");
    }
    if (xpfo_heap_set_grow(blocking_grow) != -1) {
        fail(name, "set_grow reopened growing after close");
    }
    printf("ok %s\n", name);
}

/* ---- fork while other threads allocate: the child's allocator is usable and never calls the callback ---- */
static _Atomic int churning = 1;

static void *churn(void *unused) {
    (void)unused;
    while (atomic_load(&churning)) {
        void *p = xpfo_heap_malloc(100, NULL, 0);
        void *q = xpfo_heap_malloc(20000, NULL, 0);
        xpfo_heap_free(p, NULL, 0);
        xpfo_heap_free(q, NULL, 0);
    }
    return NULL;
}

static int child_grow_calls;

static int counting_grow(size_t bytes, size_t seen) {
    (void)bytes;
    (void)seen;
    child_grow_calls++;
    return 0;
}

static void fork_while_allocating(int forks) {
    const char *name = "fork while allocating";
    void *parents = xpfo_heap_malloc(100, NULL, 0); /* a live block of the parent's, in a chunk the child lacks */
    void *freed = xpfo_heap_malloc(200, NULL, 0);
    xpfo_heap_free(freed, NULL, 0); /* and one on a free list: its link is in the chunk too */
    if (parents == NULL) {
        fail(name, "malloc returned NULL");
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, churn, NULL);
    }
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a lock inherited held would hang here: SIGALRM */
            /* the chunks are not here (MADV_DONTFORK): touching one would be a SIGSEGV */
            void *p = xpfo_heap_malloc(100, NULL, 0);
            void *q = xpfo_heap_malloc(20000, NULL, 0);
            void *huge = xpfo_heap_malloc(16 * CHUNK, NULL, 0); /* needs a chunk: no JVM to ask */
            uint64_t foreign = xpfo_heap_foreign_frees();
            xpfo_heap_free(parents, NULL, 0);
            void *moved = xpfo_heap_realloc(parents, 300, NULL, 0);
            int counted = xpfo_heap_foreign_frees() - foreign == 2;
            _exit(p == NULL && q == NULL && huge == NULL && moved == NULL && counted && child_grow_calls == 0
                    && xpfo_heap_arena_bytes() == 0 && xpfo_heap_in_use_bytes() == 0 ? 0 : 3);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            atomic_store(&churning, 0);
            fail(name, WIFSIGNALED(status) ? "the child hung (a lock held at fork) or crashed (touched an absent chunk)"
                                           : "the child allocated from chunks it does not have, did not count the "
                                             "parent's pointers as foreign, or called the grow callback");
        }
    }
    atomic_store(&churning, 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    uint64_t foreign = xpfo_heap_foreign_frees();
    xpfo_heap_free(parents, NULL, 0);
    if (xpfo_heap_foreign_frees() != foreign) {
        fail(name, "the parent's own free was refused");
    }
    printf("ok %s (%d forks, %s chunks)\n", name, forks, chunk_kind);
}

/* ---- refill ahead: below the watermark malloc wakes the refill thread, which adds a chunk ---- */
#define MARK ((size_t)512 * 1024)
static _Atomic int refills;

static void *refiller(void *unused) {
    (void)unused;
    while (xpfo_heap_await_refill() == 1) {
        if (xpfo_heap_unused_bytes() < MARK) {
            add(CHUNK);
            atomic_fetch_add(&refills, 1);
        }
    }
    return NULL;
}

static void refill_ahead(void) {
    const char *name = "refill ahead";
    if (xpfo_heap_set_low_watermark(MARK) != 0) {
        fail(name, "set_low_watermark");
    }
    pthread_t t;
    pthread_create(&t, NULL, refiller, NULL);
    pthread_detach(t); /* blocked in read(2) until the process ends */
    size_t arena = xpfo_heap_arena_bytes();
    uint64_t requests = xpfo_heap_grow_requests();
    for (size_t got = 0; got < arena + 3 * CHUNK; got += 64 * 1024) {
        while (xpfo_heap_unused_bytes() < MARK) {
            usleep(1000); /* the refill thread's turn: malloc never has to ask */
        }
        if (xpfo_heap_malloc(64 * 1024 - 64, NULL, 0) == NULL) {
            fail(name, "an allocation failed");
        }
    }
    if (atomic_load(&refills) < 3 || xpfo_heap_grow_requests() != requests
            || xpfo_heap_arena_bytes() != arena + (size_t)atomic_load(&refills) * CHUNK) {
        fail(name, "the chunks did not come from refills ahead");
    }
    printf("ok %s (%d refills)\n", name, atomic_load(&refills));
}

/* ---- more than 64 chunks, every one used, and the maximum ---- */
#define SMALL_CHUNKS 100
#define SMALL_CHUNK ((size_t)256 * 1024)
#define BIG_CHUNKS 10
#define SPAN (SMALL_CHUNK - 16) /* one page-rounded span fills a small chunk exactly */

static char *ordinary(size_t bytes) {
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fail("setup", "mmap");
    }
    return p;
}

static int chunk_index(char *p, char *small, char *big) {
    if (p >= small && p < small + SMALL_CHUNKS * SMALL_CHUNK) {
        return (int)((p - small) / SMALL_CHUNK);
    }
    if (p >= big && p < big + BIG_CHUNKS * CHUNK) {
        return SMALL_CHUNKS + (int)((p - big) / CHUNK);
    }
    return -1;
}

/* Allocates SPAN-byte blocks until malloc returns NULL; counts those in each new chunk. */
static int fill(void **blocks, int cap, int *per_chunk, char *small, char *big) {
    memset(per_chunk, 0, sizeof(int) * (SMALL_CHUNKS + BIG_CHUNKS));
    int n = 0;
    for (void *p; n < cap && (p = xpfo_heap_malloc(SPAN, NULL, 0)) != NULL; n++) {
        ((char *)p)[0] = 1;
        ((char *)p)[SPAN - 1] = 1;
        blocks[n] = p;
        int c = chunk_index(p, small, big);
        if (c >= 0) {
            per_chunk[c]++;
        }
    }
    return n;
}

static void many_chunks(void) {
    const char *name = "more than 64 chunks";
    size_t in_use = xpfo_heap_in_use_bytes();
    uint64_t foreign = xpfo_heap_foreign_frees();
    /* small chunks side by side (many per 2 MiB granule: found by the table scan) and 2 MiB-aligned big ones */
    char *small = ordinary(SMALL_CHUNKS * SMALL_CHUNK);
    char *big = ordinary((BIG_CHUNKS + 1) * CHUNK);
    big = (char *)(((uintptr_t)big + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
    int before = xpfo_heap_arena_count();
    for (int i = 0; i < SMALL_CHUNKS + BIG_CHUNKS; i++) {
        char *base = i < SMALL_CHUNKS ? small + i * SMALL_CHUNK : big + (size_t)(i - SMALL_CHUNKS) * CHUNK;
        if (xpfo_heap_add_chunk(base, i < SMALL_CHUNKS ? SMALL_CHUNK : CHUNK) != 0) {
            char why[80];
            snprintf(why, sizeof why, "chunk %d of the heap refused", before + i + 1);
            fail(name, why);
        }
    }
    enum { CAP = 4096 };
    static void *blocks[CAP];
    static int per_chunk[SMALL_CHUNKS + BIG_CHUNKS];
    int n = fill(blocks, CAP, per_chunk, small, big);
    for (int c = 0; c < SMALL_CHUNKS + BIG_CHUNKS; c++) {
        if (per_chunk[c] != (c < SMALL_CHUNKS ? 1 : (int)(CHUNK / SMALL_CHUNK))) {
            fail(name, "a chunk was not used to the full");
        }
    }
    for (int i = 0; i < n; i++) {
        xpfo_heap_free(blocks[i], NULL, 0);
    }
    if (xpfo_heap_foreign_frees() != foreign || xpfo_heap_in_use_bytes() != in_use) {
        fail(name, "a block in a later chunk was not recognised as ours on free");
    }
    /* freed spans of neighbouring chunks must not merge across them: the same blocks fit again */
    int again = fill(blocks, CAP, per_chunk, small, big);
    for (int i = 0; i < again; i++) {
        xpfo_heap_free(blocks[i], NULL, 0);
    }
    if (again != n || xpfo_heap_foreign_frees() != foreign) {
        fail(name, "the chunks held other blocks the second time");
    }

    /* the maximum: no chunk past it, so malloc returns NULL at it */
    size_t arena = xpfo_heap_arena_bytes();
    xpfo_heap_set_max_bytes(arena + SMALL_CHUNK);
    char *extra = ordinary(2 * SMALL_CHUNK);
    if (xpfo_heap_add_chunk(extra, SMALL_CHUNK) != 0 || xpfo_heap_add_chunk(extra + SMALL_CHUNK, SMALL_CHUNK) != -1
            || xpfo_heap_arena_bytes() != arena + SMALL_CHUNK) {
        fail(name, "the maximum did not bound the arena bytes");
    }
    xpfo_heap_set_max_bytes(0);
    printf("ok %s (%d chunks, %d blocks of %zu bytes)\n", name, xpfo_heap_arena_count(), n, (size_t)SPAN);
}

/* Usage: xpfo_crypto_heap_test [FORKS [CASE]]; CASE is double-free, nested-grow, fork, thread-exit, close, chunks or refill (default: all). */
int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    const char *only = argc > 2 ? argv[2] : "all";
    int all = strcmp(only, "all") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    add(CHUNK);
    if (all || strcmp(only, "double-free") == 0) {
        concurrent_double_frees();
    }
    if (all || strcmp(only, "nested-grow") == 0) {
        grow_callback_may_allocate();
    }
    if (all || strcmp(only, "fork") == 0) {
        /* before closing: the child must not call a callback that is still set in the parent */
        xpfo_heap_set_grow(counting_grow);
        fork_while_allocating(forks);
    }
    if (all || strcmp(only, "thread-exit") == 0) {
        thread_exit_never_calls_java();
    }
    if (all || strcmp(only, "close") == 0) {
        close_waits_for_callers();
    }
    if (all || strcmp(only, "chunks") == 0) {
        /* after close: an allocation that finds no room fails instead of growing */
        xpfo_heap_close_grow();
        many_chunks();
    }
    if (all || strcmp(only, "refill") == 0) {
        refill_ahead();
    }
    return 0;
}
