/*
 * A user who takes every connection it can and sends nothing: connects to SOCKET up to N times, each
 * time shaking hands (xpfo_connect), and keeps every connection the service accepted. Prints
 * "held K" (and, if a connection was refused, "refused: " with the service's reason), then waits
 * until it is killed. Exits 2 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "xpfo_client.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hold_connections SOCKET N\n");
        return 2;
    }
    int wanted = atoi(argv[2]);
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
        held++; /* kept open, never used again */
    }
    printf("held %d\n", held);
    fflush(stdout);
    for (;;) {
        pause();
    }
}
