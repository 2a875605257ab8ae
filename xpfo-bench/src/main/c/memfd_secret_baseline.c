// SPDX-License-Identifier: Apache-2.0
/*
 * The C baselines of xpfo's benchmarks: memfd_secret(2) called directly, with nothing in between.
 *
 *   memfd_secret_baseline populate SIZE_BYTES
 *       Creates a secret memory file of SIZE bytes, sizes it, maps it MAP_SHARED and reads one byte of
 *       every page (what xpfo's populate does); prints the nanoseconds that took. Release is not timed.
 *
 *   memfd_secret_baseline small COUNT
 *       COUNT times: a secret memory file for one 32-byte secret (create, size to a page, map, write
 *       32 bytes, unmap, close), what a program without a pool pays per secret; prints the total
 *       nanoseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int fail(const char *call) {
    fprintf(stderr, "%s: %s\n", call, strerror(errno));
    return 1;
}

static int populate(size_t size) {
    long page = sysconf(_SC_PAGESIZE);
    long long start = now_ns();
    int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
    if (fd < 0) {
        return fail("memfd_secret");
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        return fail("ftruncate");
    }
    volatile unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return fail("mmap");
    }
    unsigned sink = 0;
    for (size_t off = 0; off < size; off += (size_t)page) {
        sink += p[off];
    }
    munmap((void *)p, size);
    long long elapsed = now_ns() - start;
    close(fd);
    printf("%lld %u\n", elapsed, sink);
    return 0;
}

static int small(long count) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char secret[32];
    memset(secret, 0x5a, sizeof secret);
    long long start = now_ns();
    for (long i = 0; i < count; i++) {
        int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
        if (fd < 0) {
            return fail("memfd_secret");
        }
        if (ftruncate(fd, page) != 0) {
            return fail("ftruncate");
        }
        unsigned char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            return fail("mmap");
        }
        memcpy(p, secret, sizeof secret);
        munmap(p, (size_t)page);
        close(fd);
    }
    printf("%lld\n", now_ns() - start);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "populate") == 0) {
        return populate(strtoull(argv[2], NULL, 10));
    }
    if (argc == 3 && strcmp(argv[1], "small") == 0) {
        return small(strtol(argv[2], NULL, 10));
    }
    fprintf(stderr, "usage: %s populate SIZE_BYTES | small COUNT\n", argv[0]);
    return 2;
}
