// SPDX-License-Identifier: Apache-2.0
/*
 * An attacker of the same user as a process: tries to copy each of the process's descriptors named on
 * the command line with pidfd_getfd(2), then to attach to it with ptrace(PTRACE_SEIZE) (detaching at
 * once if that worked). Prints one line per attempt: "fd N: taken as M" or "fd N: refused ERRNO",
 * "ptrace: attached" or "ptrace: refused ERRNO". Exits 0 if every attempt was refused, 1 if any
 * succeeded, 2 on bad arguments or if pidfd_open failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "pidfd_take.h"

static const char *name(int error) {
    switch (error) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case ESRCH: return "ESRCH";
    default: return strerror(error);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: take_descriptors PID FD...\n");
        return 2;
    }
    pid_t pid = (pid_t) atoi(argv[1]);
    int pidfd = pidfd_of(pid);
    if (pidfd < 0) {
        printf("pidfd_open: %s\n", name(errno));
        return 2;
    }
    int succeeded = 0;
    for (int i = 2; i < argc; i++) {
        int target = atoi(argv[i]);
        int copy = take_descriptor(pidfd, target);
        if (copy >= 0) {
            printf("fd %d: taken as %d\n", target, copy);
            succeeded = 1;
        } else {
            printf("fd %d: refused %s\n", target, name(errno));
        }
    }
    if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0) {
        printf("ptrace: attached\n");
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
        succeeded = 1;
    } else {
        printf("ptrace: refused %s\n", name(errno));
    }
    fflush(stdout);
    return succeeded;
}
