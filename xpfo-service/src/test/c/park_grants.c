// SPDX-License-Identifier: Apache-2.0
/*
 * A hostile client for the service's tests: takes grants, hides their descriptors where no scan of
 * /proc can see them, says RELEASE, and takes more.
 *
 *   park_grants SOCKET MODE BYTES ROUNDS PATIENCE_MS
 *
 * MODE: "socketpair" parks each grant's descriptors in a socketpair's queue (SCM_RIGHTS to itself),
 * "io_uring" registers them as an io_uring's fixed files, "keep" keeps them open in this process.
 * Own descriptors are closed once parked. Prints one line per round ("GRANTED n" or
 * "REFUSED NAME message"); a refused grant is asked again every 200 ms for PATIENCE_MS (as an
 * attacker would, giving the service time to take releases for gone), then it stops and prints "PARKED n" and waits for a line
 * on stdin; then closes every parking place, prints "CLOSED", and on the next line asks for BYTES
 * once more ("GRANTED" or "REFUSED ...") and exits.
 */
#define _GNU_SOURCE
#include "xpfo_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SYS_IO_URING_SETUP 425
#define SYS_IO_URING_REGISTER 427
#define IORING_REGISTER_FILES 2
#define MAX_PLACES 4096

/* struct io_uring_params: 120 bytes, all zero asks for the defaults. */
struct uring_params {
    unsigned char bytes[120];
};

static long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

static int places[MAX_PLACES];
static int place_count;

static int park_socketpair(const int *fds, uint32_t count) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair)) return -1;
    for (uint32_t first = 0; first < count; first += 250) {
        uint32_t n = count - first < 250 ? count - first : 250;
        char byte = 'x';
        struct iovec iov = {&byte, 1};
        size_t space = CMSG_SPACE(n * sizeof(int));
        char *control = calloc(1, space);
        struct msghdr msg = {0};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = space;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(cmsg), fds + first, n * sizeof(int));
        int rc = sendmsg(pair[0], &msg, 0);
        free(control);
        if (rc != 1) return -1;
    }
    places[place_count++] = pair[0];
    places[place_count++] = pair[1];
    return 0;
}

static int park_io_uring(const int *fds, uint32_t count) {
    struct uring_params params;
    memset(&params, 0, sizeof params);
    int ring = (int) syscall(SYS_IO_URING_SETUP, 4, &params);
    if (ring < 0) return -1;
    if (syscall(SYS_IO_URING_REGISTER, ring, IORING_REGISTER_FILES, fds, count)) return -1;
    places[place_count++] = ring;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: park_grants SOCKET socketpair|io_uring|keep BYTES ROUNDS PATIENCE_MS\n");
        return 2;
    }
    const char *mode = argv[2];
    uint64_t bytes = strtoull(argv[3], NULL, 10);
    int rounds = atoi(argv[4]);
    long patience_ms = atol(argv[5]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct xpfo_client *client;
    int rc = xpfo_connect(argv[1], &client);
    if (rc) {
        printf("ERROR connect: %s\n", client ? xpfo_last_error(client) : "no memory");
        return 1;
    }
    int parked = 0;
    for (int round = 0; round < rounds && place_count < MAX_PLACES - 2; round++) {
        struct xpfo_files files;
        rc = xpfo_grant_files(client, bytes, 0, &files);
        long started = now_ms();
        while ((rc == XPFO_ERR_POOL_EXHAUSTED || rc == XPFO_ERR_OVER_QUOTA) && now_ms() - started < patience_ms) {
            usleep(200 * 1000);
            rc = xpfo_grant_files(client, bytes, 0, &files);
        }
        if (rc) {
            printf("REFUSED %s %s\n", xpfo_error_name(rc), xpfo_last_error(client));
            break;
        }
        if (!strcmp(mode, "socketpair")) {
            rc = park_socketpair(files.fds, files.count);
        } else if (!strcmp(mode, "io_uring")) {
            rc = park_io_uring(files.fds, files.count);
        } else {
            for (uint32_t i = 0; i < files.count; i++) places[place_count++] = dup(files.fds[i]);
            rc = 0;
        }
        if (rc) {
            perror(mode);
            return 1;
        }
        uint64_t grant_id = files.grant_id;
        xpfo_files_close(&files);
        /* xpfo_release unmaps the grant's span and says RELEASE: give it a span of its own to unmap. */
        struct xpfo_grant grant = {0};
        grant.span_bytes = (size_t) sysconf(_SC_PAGESIZE);
        grant.span = mmap(NULL, grant.span_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        grant.grant_id = grant_id;
        rc = xpfo_release(client, &grant);
        if (rc) {
            printf("ERROR release: %s\n", xpfo_last_error(client));
            return 1;
        }
        parked++;
        printf("GRANTED %d\n", parked);
    }
    printf("PARKED %d\n", parked);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 0;
    for (int i = 0; i < place_count; i++) close(places[i]);
    printf("CLOSED\n");
    if (!fgets(line, sizeof line, stdin)) return 0;
    struct xpfo_files files;
    rc = xpfo_grant_files(client, bytes, 0, &files);
    if (rc) {
        printf("REFUSED %s %s\n", xpfo_error_name(rc), xpfo_last_error(client));
    } else {
        printf("GRANTED\n");
        xpfo_files_close(&files);
    }
    xpfo_close(client);
    return 0;
}
