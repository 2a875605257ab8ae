// SPDX-License-Identifier: Apache-2.0
/*
 * A user who takes every connection it can: connects to SOCKET up to N times, each time shaking
 * hands (xpfo_connect), and keeps every connection the service accepted. Prints "held K" (and, if a
 * connection was refused, "refused: " with the service's reason). Then, without INTERVAL_MS, sends
 * nothing and waits until it is killed; with it, asks every connection for STATUS every INTERVAL_MS
 * (requests that are not grant activity), printing "lost: " with the reason for each connection the
 * service closes and "none left" once all are gone. Exits 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "xpfo_client.h"

#define MAX_HELD 1024

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: hold_connections SOCKET N [INTERVAL_MS]\n");
        return 2;
    }
    int wanted = atoi(argv[2]);
    if (wanted < 0 || wanted > MAX_HELD) {
        fprintf(stderr, "hold_connections: N must be 0 to %d\n", MAX_HELD);
        return 2;
    }
    long interval = argc == 4 ? atol(argv[3]) : 0;
    static struct xpfo_client *clients[MAX_HELD];
    int held = 0;
    for (int i = 0; i < wanted; i++) {
        struct xpfo_client *client = NULL;
        if (xpfo_connect(argv[1], &client) != 0) {
            printf("refused: %s\n", client != NULL ? xpfo_last_error(client) : "out of memory");
            if (client != NULL) {
                xpfo_close(client);
            }
            break;
        }
        clients[held++] = client; /* kept open */
    }
    printf("held %d\n", held);
    fflush(stdout);
    if (interval <= 0) {
        for (;;) {
            pause();
        }
    }
    int open = held;
    struct timespec pace = {interval / 1000, (interval % 1000) * 1000000L};
    for (;;) {
        for (int i = 0; i < held; i++) {
            if (clients[i] == NULL) {
                continue;
            }
            char *json = NULL;
            if (xpfo_status(clients[i], &json) != 0) {
                printf("lost: %s\n", xpfo_last_error(clients[i]));
                xpfo_close(clients[i]);
                clients[i] = NULL;
                if (--open == 0) {
                    printf("none left\n");
                }
                fflush(stdout);
                continue;
            }
            free(json);
        }
        nanosleep(&pace, NULL);
    }
}
