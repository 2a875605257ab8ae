// SPDX-License-Identifier: MIT
/*
 * Example and diagnostic for the C client: asks the running xpfo service for memory, writes every
 * page, optionally writes a marker, prints what it got, holds it, releases it.
 *
 *     cc -std=c11 -O2 -o xpfo_example example.c xpfo_client.c
 *     ./xpfo_example [--socket PATH] [--size BYTES] [--marker TEXT] [--hold SECONDS] [--warm-only] [--status]
 *
 * With --marker the same text is also written to ordinary heap memory, whose address is printed as
 * "control": another process can read that one but not the granted one.
 * Exit status: 0 granted, 1 usage, 2 client-side failure, 3 refused by the service.
 */
#define _GNU_SOURCE
#include "xpfo_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *socket_path = NULL, *marker = NULL;
    unsigned long long size = 4ull << 20;
    double hold = 0;
    uint32_t flags = 0;
    int status_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc) socket_path = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--marker") && i + 1 < argc) marker = argv[++i];
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warm-only")) flags |= XPFO_GRANT_WARM_ONLY;
        else if (!strcmp(argv[i], "--status")) status_only = 1;
        else {
            fprintf(stderr, "usage: %s [--socket PATH] [--size BYTES] [--marker TEXT] [--hold SECONDS] [--warm-only] [--status]\n", argv[0]);
            return 1;
        }
    }
    struct xpfo_client *client;
    int rc = xpfo_connect(socket_path, &client);
    if (rc) {
        fprintf(stderr, "xpfo_example: %s\n", xpfo_last_error(client));
        xpfo_close(client);
        return rc > 0 ? 3 : 2;
    }
    if (status_only) {
        char *json;
        rc = xpfo_status(client, &json);
        if (rc == 0) {
            printf("%s\n", json);
            free(json);
        }
    } else {
        struct xpfo_grant grant;
        rc = xpfo_grant(client, size, flags, &grant);
        if (rc == 0) {
            unsigned char *memory = grant.addr;
            size_t page = (size_t) sysconf(_SC_PAGESIZE);
            for (size_t offset = 0; offset < grant.bytes; offset += page) memory[offset] = 1;
            char *control = NULL;
            if (marker) {
                memcpy(memory, marker, strlen(marker));
                control = malloc(strlen(marker) + 1);
                strcpy(control, marker);
            }
            printf("pid=%d grant=%llu bytes=%zu chunks=%u addr=%p control=%p\n", (int) getpid(),
                   (unsigned long long) grant.grant_id, grant.bytes, grant.chunks, grant.addr, (void *) control);
            fflush(stdout);
            if (hold > 0) usleep((useconds_t) (hold * 1e6));
            rc = xpfo_release(client, &grant);
            free(control);
        }
    }
    if (rc) fprintf(stderr, "xpfo_example: %s\n", xpfo_last_error(client));
    xpfo_close(client);
    return rc == 0 ? 0 : rc > 0 ? 3 : 2;
}
