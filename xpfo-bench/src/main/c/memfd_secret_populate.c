/*
 * The baseline for xpfo's populate benchmark: memfd_secret(2) called directly from C.
 * Creates a secret memory file of SIZE bytes, sizes it, maps it MAP_SHARED and reads one byte of
 * every page (what xpfo's populate does), then prints the nanoseconds that took. Release is not timed.
 *
 *   memfd_secret_populate SIZE_BYTES
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SIZE_BYTES\n", argv[0]);
        return 2;
    }
    size_t size = strtoull(argv[1], NULL, 10);
    long page = sysconf(_SC_PAGESIZE);

    long long start = now_ns();
    int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "memfd_secret: %s\n", strerror(errno));
        return 1;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        fprintf(stderr, "ftruncate: %s\n", strerror(errno));
        return 1;
    }
    volatile unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap: %s\n", strerror(errno));
        return 1;
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
