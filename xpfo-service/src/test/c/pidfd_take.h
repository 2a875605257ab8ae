// SPDX-License-Identifier: Apache-2.0
/*
 * The attack the tests try on a process's descriptors: pidfd_open(2) + pidfd_getfd(2), which any process
 * allowed to ptrace the target (root, or the same uid while it is dumpable) may use. No glibc wrappers.
 */
#ifndef XPFO_TEST_PIDFD_TAKE_H
#define XPFO_TEST_PIDFD_TAKE_H

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* A pidfd for PID, or -1 with errno. */
static inline int pidfd_of(pid_t pid) {
    return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* A copy of descriptor FD of the process behind PIDFD, or -1 with errno (EPERM: not allowed to ptrace it). */
static inline int take_descriptor(int pidfd, int fd) {
    return (int) syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

#endif
