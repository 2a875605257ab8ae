// SPDX-License-Identifier: Apache-2.0
/*
 * Run with the QEMU preload library: one thread sizes a guest RAM stand-in while the "service"
 * (a socket that never answers) keeps it waiting; meanwhile the main thread forks, as QEMU does for
 * its network helpers, and the child closes a descriptor, which goes through the library's close().
 * Exits 0 if the child finished, 1 if it hung (the library's lock held across the fork).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void *size_guest_ram(void *unused) {
    (void) unused;
    int fd = memfd_create("memory-backend-memfd", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        exit(2);
    }
    ftruncate(fd, 4 << 20); /* waits on the silent service */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", argv[1]);
    if (bind(listener, (struct sockaddr *) &address, sizeof address) != 0 || listen(listener, 4) != 0) {
        perror("listen");
        return 2;
    }
    setenv("XPFO_SOCKET", argv[1], 1);
    pthread_t sizer;
    pthread_create(&sizer, NULL, size_guest_ram, NULL);
    sleep(1); /* the sizer is now inside the library, waiting for the service */
    pid_t child = fork();
    if (child == 0) {
        close(1000);
        _exit(0);
    }
    for (int i = 0; i < 50; i++) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child) {
            printf("child finished\n");
            return 0;
        }
        usleep(100 * 1000);
    }
    printf("child hung in close() for 5 s\n");
    kill(child, SIGKILL);
    return 1;
}
