// SPDX-License-Identifier: MIT
/*
 * LD_PRELOAD library that gives QEMU its guest RAM from xpfo: the memory file QEMU creates for a
 * memory-backend-memfd object is replaced by secret memory (out of the kernel's direct map), taken
 * from the running `xpfo serve` (already populated: warm) or, when asked, created here (populated by
 * the guest's first touches: cold). Started by `xpfo vm`, which checks the command line first.
 *
 * QEMU creates that file with memfd_create("memory-backend-memfd", ...), sizes it with one
 * ftruncate, maps it MAP_SHARED|MAP_FIXED into a reservation, and keeps the descriptor. Only that
 * name is touched: QEMU's own probing memfds ("test", "vhost-log", ...) stay ordinary. For each
 * backend this library hands QEMU an unsized secret memory file as a stand-in, takes the memory when
 * QEMU sizes it, and maps the grant's chunk files where QEMU maps the stand-in.
 *
 * Environment (set by `xpfo vm`):
 *   XPFO_VM_RAM     "service" (default): from xpfo serve; "secretmem": a secret memory file of
 *                   its own, nothing from the service.
 *   XPFO_SOCKET     the service's socket (default as in the C client).
 *   XPFO_VM_WARM_ONLY=1  refuse rather than let the service populate missing memory on demand.
 *   XPFO_VM_MAPS_SOCKET  where `xpfo vm` waits for QEMU's /proc/self/maps descriptor (see below).
 * Nothing falls back to ordinary memory: every failure fails QEMU's call, with the reason on stderr.
 *
 * QEMU is made non-dumpable before it runs: it holds its guest RAM's secret memory file (with
 * XPFO_VM_RAM=secretmem; a grant's files until they are mapped), and any process of its user could
 * otherwise take that descriptor with pidfd_getfd(2) or ptrace it, then map the file and read the
 * guest. Non-dumpable, only CAP_SYS_PTRACE (root) can, and /proc/PID/{maps,mem,fd} are root's.
 * So that `xpfo vm` (the same user, without CAP_SYS_PTRACE) can still check where guest RAM is
 * mapped, QEMU opens its own /proc/self/maps (a process may always read its own) and passes that
 * descriptor to it: reads through it are the kernel's answer about QEMU's address space.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../c/xpfo_client.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#define BACKEND_NAME "memory-backend-memfd"
#define MAX_BACKENDS 64

enum source { FROM_SERVICE, OWN_SECRETMEM };

struct backend {
    int fd;                  /* the stand-in QEMU holds; -1 if the slot is free */
    dev_t dev;               /* the stand-in's file, so a reused descriptor number is not mistaken for it */
    ino_t ino;
    enum source source;
    int sizing;              /* a grant is being asked for, outside the lock */
    uint64_t bytes;          /* 0 until QEMU sizes it */
    int mapped;              /* FROM_SERVICE: mapped whole once; the files are closed then */
    struct xpfo_files files; /* FROM_SERVICE: the grant's chunk files until mapped */
};

static struct backend backends[MAX_BACKENDS];
/* Recursive: the client library closes its own descriptors through the close() below. */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int (*real_memfd_create)(const char *, unsigned int);
static int (*real_ftruncate)(int, off_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_close)(int);

static void say(const char *format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    fprintf(stderr, "xpfo vm: %s\n", line);
}

/* Passes a descriptor of this process's /proc/self/maps to the launcher listening at path. */
static int send_maps(const char *path) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, path);
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps < 0) return -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1;
    if (s >= 0 && connect(s, (struct sockaddr *) &address, sizeof address) == 0) {
        char byte = 'm';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
        memset(&control, 0, sizeof control);
        struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                                 .msg_controllen = sizeof control.buffer};
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &maps, sizeof(int));
        rc = sendmsg(s, &message, MSG_NOSIGNAL) == 1 ? 0 : -1;
    }
    int error = errno;
    if (s >= 0) syscall(SYS_close, s);
    syscall(SYS_close, maps);
    errno = error;
    return rc;
}

/* Runs when the library is loaded, before QEMU's main(): QEMU never runs dumpable. */
__attribute__((constructor)) static void make_not_dumpable(void) {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
        say("prctl(PR_SET_DUMPABLE, 0) failed (%s): QEMU would let any process of its user take its guest RAM "
            "(pidfd_getfd, ptrace); not starting it", strerror(errno));
        _exit(1);
    }
    const char *path = getenv("XPFO_VM_MAPS_SOCKET");
    if (path && *path) {
        if (send_maps(path) != 0) {
            say("could not pass QEMU's /proc/self/maps to xpfo vm at %s (%s): its guest RAM could not be checked; "
                "not starting it", path, strerror(errno));
            _exit(1);
        }
        /* Programs QEMU starts (network helpers) must not send theirs. */
        unsetenv("XPFO_VM_MAPS_SOCKET");
    }
}

/* A child forked while another thread held the lock would find it held forever. */
static void reset_lock_in_child(void) {
    pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    lock = fresh;
}

static void resolve(void) {
    real_memfd_create = dlsym(RTLD_NEXT, "memfd_create");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate64");
    if (!real_ftruncate) real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_mmap = dlsym(RTLD_NEXT, "mmap64");
    if (!real_mmap) real_mmap = dlsym(RTLD_NEXT, "mmap");
    real_close = dlsym(RTLD_NEXT, "close");
    for (int i = 0; i < MAX_BACKENDS; i++) backends[i].fd = -1;
    pthread_atfork(NULL, NULL, reset_lock_in_child);
    /* A grant arrives as one descriptor per 2 MiB chunk: a large guest needs more than the usual
     * soft limit of 1024 while they are received and mapped. */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
}

/* A free slot. */
static struct backend *free_slot(void) {
    for (int i = 0; i < MAX_BACKENDS; i++) {
        if (backends[i].fd == -1) return &backends[i];
    }
    return NULL;
}

/* The backend whose stand-in is fd, checked by its inode: a number reused after dup2 is not it. */
static struct backend *find(int fd) {
    if (fd < 0) return NULL;
    for (int i = 0; i < MAX_BACKENDS; i++) {
        if (backends[i].fd == fd) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_dev == backends[i].dev && st.st_ino == backends[i].ino) return &backends[i];
            return NULL;
        }
    }
    return NULL;
}

static enum source configured_source(void) {
    const char *source = getenv("XPFO_VM_RAM");
    return source && strcmp(source, "secretmem") == 0 ? OWN_SECRETMEM : FROM_SERVICE;
}

int memfd_create(const char *name, unsigned int flags) {
    pthread_once(&once, resolve);
    if (!name || strcmp(name, BACKEND_NAME) != 0) return real_memfd_create(name, flags);
    if (flags & MFD_HUGETLB) {
        say("guest RAM asks for huge pages (hugetlb=on); secret memory has only 4 KiB pages: drop hugetlb=on");
        errno = EINVAL;
        return -1;
    }
    if (flags & MFD_ALLOW_SEALING) {
        say("guest RAM asks for a sealed file (seal=on, the default); secret memory cannot be sealed (EINVAL): "
            "add seal=off to the memory-backend-memfd (xpfo vm does)");
        errno = EINVAL;
        return -1;
    }
    int fd = (int) syscall(SYS_memfd_secret, (flags & MFD_CLOEXEC) ? O_CLOEXEC : 0);
    if (fd < 0) {
        int error = errno;
        say("memfd_secret failed (%s): this kernel gives no secret memory (needs CONFIG_SECRETMEM and "
            "secretmem.enable); guest RAM is not started in ordinary memory", strerror(error));
        errno = error;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int error = errno;
        real_close(fd);
        errno = error;
        return -1;
    }
    pthread_mutex_lock(&lock);
    struct backend *slot = free_slot();
    if (slot) {
        memset(slot, 0, sizeof *slot);
        slot->fd = fd;
        slot->dev = st.st_dev;
        slot->ino = st.st_ino;
        slot->source = configured_source();
    }
    pthread_mutex_unlock(&lock);
    if (!slot) {
        real_close(fd);
        say("more than %d guest RAM backends", MAX_BACKENDS);
        errno = EMFILE;
        return -1;
    }
    return fd;
}

/* Asks the service for length bytes; called without the lock (it may wait for populating). */
static int grant_from_service(off_t length, struct xpfo_files *files) {
    struct xpfo_client *client = NULL;
    int rc = xpfo_connect(NULL, &client);
    if (rc == 0 && (uint64_t) length % xpfo_chunk_bytes(client) != 0) {
        uint64_t chunk = xpfo_chunk_bytes(client);
        say("guest RAM of %llu bytes is not a whole number of the service's %llu MiB chunks: use a multiple of %llu MiB",
            (unsigned long long) length, (unsigned long long) chunk >> 20, (unsigned long long) chunk >> 20);
        xpfo_close(client);
        errno = EINVAL;
        return -1;
    }
    if (rc == 0) {
        const char *warm_only = getenv("XPFO_VM_WARM_ONLY");
        rc = xpfo_grant_files(client, (uint64_t) length, warm_only && strcmp(warm_only, "1") == 0 ? XPFO_GRANT_WARM_ONLY : 0,
                              files);
    }
    if (rc != 0) {
        say("no guest RAM from xpfo serve: %s%s%s", rc > 0 ? xpfo_error_name(rc) : "", rc > 0 ? ": " : "",
            xpfo_last_error(client));
        xpfo_close(client);
        errno = ENOMEM;
        return -1;
    }
    say("guest RAM %llu MiB: secret memory from xpfo serve (grant %llu, %u files of %llu MiB)",
        (unsigned long long) length >> 20, (unsigned long long) files->grant_id, files->count,
        (unsigned long long) files->chunk_bytes >> 20);
    /* The files keep the memory; the service counts it against this user until they are closed. */
    xpfo_close(client);
    return 0;
}

/* Takes the memory for a stand-in QEMU sizes: a grant from the service, or the stand-in itself sized. */
static int truncate_hook(int fd, off_t length) {
    pthread_once(&once, resolve);
    pthread_mutex_lock(&lock);
    struct backend *b = find(fd);
    if (!b) {
        pthread_mutex_unlock(&lock);
        return real_ftruncate(fd, length);
    }
    if (b->bytes != 0 || b->sizing || length <= 0) {
        pthread_mutex_unlock(&lock);
        errno = EINVAL; /* like secret memory itself: sized once */
        return -1;
    }
    if (b->source == OWN_SECRETMEM) {
        int rc = real_ftruncate(fd, length);
        if (rc == 0) {
            b->bytes = (uint64_t) length;
            say("guest RAM %llu MiB: secret memory created by QEMU's process (cold: each page leaves the direct map "
                "when the guest first touches it)", (unsigned long long) length >> 20);
        }
        pthread_mutex_unlock(&lock);
        return rc;
    }
    b->sizing = 1;
    pthread_mutex_unlock(&lock);
    struct xpfo_files files;
    int rc = grant_from_service(length, &files);
    int error = errno;
    pthread_mutex_lock(&lock);
    if (b->fd != fd) {
        /* QEMU closed the stand-in meanwhile: nothing will map the grant. */
        if (rc == 0) xpfo_files_close(&files);
        rc = -1;
        error = EBADF;
    } else {
        b->sizing = 0;
        if (rc == 0) {
            b->files = files;
            b->bytes = (uint64_t) length;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = error;
    return rc;
}

int ftruncate(int fd, off_t length) { return truncate_hook(fd, length); }
int ftruncate64(int fd, off_t length) { return truncate_hook(fd, length); }

/* Maps the grant's chunks one after another where QEMU maps its stand-in. */
static void *map_grant(struct backend *b, void *addr, size_t length, int prot, int flags, off_t offset) {
    uint64_t chunk = b->files.chunk_bytes;
    if (offset < 0 || (uint64_t) offset % chunk != 0 || length == 0 || (uint64_t) offset + length > b->bytes
        || !(flags & MAP_SHARED) || (flags & MAP_PRIVATE)) {
        say("QEMU mapped its guest RAM in a way xpfo does not support (offset %lld, length %zu, flags 0x%x)",
            (long long) offset, length, flags);
        errno = EINVAL;
        return MAP_FAILED;
    }
    if (b->mapped) {
        say("QEMU mapped its guest RAM a second time; xpfo maps a grant once");
        errno = EINVAL;
        return MAP_FAILED;
    }
    unsigned char *base = addr;
    if (!(flags & MAP_FIXED)) {
        base = real_mmap(addr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) return MAP_FAILED;
    }
    int chunk_flags = (flags & ~(MAP_SHARED_VALIDATE | MAP_SYNC | MAP_POPULATE | MAP_FIXED_NOREPLACE)) | MAP_SHARED | MAP_FIXED;
    uint32_t first = (uint32_t) ((uint64_t) offset / chunk);
    for (size_t done = 0; done < length; done += chunk) {
        size_t piece = length - done < chunk ? length - done : chunk;
        if (real_mmap(base + done, piece, prot, chunk_flags, b->files.fds[first + done / chunk], 0) == MAP_FAILED) {
            int error = errno;
            say("mapping guest RAM chunk %zu failed: %s%s", done / chunk, strerror(error),
                error == EAGAIN ? " (RLIMIT_MEMLOCK: raise it with `ulimit -l` or LimitMEMLOCK=, or grant CAP_IPC_LOCK)" : "");
            if (flags & MAP_FIXED) {
                /* Give QEMU back its reservation as it was, not a hole another thread could map into. */
                real_mmap(base, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
            } else {
                munmap(base, length);
            }
            errno = error;
            return MAP_FAILED;
        }
    }
    /* Guest RAM must not be shared with a child QEMU forks (helpers, scripts). */
    madvise(base, length, MADV_DONTFORK);
    if (offset == 0 && (uint64_t) length == b->bytes) {
        /* Mapped whole: the mappings hold the memory, the descriptors are no longer needed. */
        xpfo_files_close(&b->files);
        b->mapped = 1;
    }
    return base;
}

static void *mmap_hook(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    pthread_once(&once, resolve);
    if (fd < 0 || (flags & MAP_ANONYMOUS)) return real_mmap(addr, length, prot, flags, fd, offset);
    pthread_mutex_lock(&lock);
    struct backend *b = find(fd);
    void *result;
    if (!b) {
        result = real_mmap(addr, length, prot, flags, fd, offset);
    } else if (b->source == OWN_SECRETMEM) {
        result = real_mmap(addr, length, prot, flags, fd, offset);
        if (result != MAP_FAILED) {
            madvise(result, length, MADV_DONTFORK);
        } else if (errno == EAGAIN) {
            say("mapping guest RAM was refused by RLIMIT_MEMLOCK (EAGAIN): raise it with `ulimit -l` or LimitMEMLOCK=, "
                "or grant CAP_IPC_LOCK");
            errno = EAGAIN;
        }
    } else if (b->bytes == 0) {
        errno = EINVAL;
        result = MAP_FAILED;
    } else {
        result = map_grant(b, addr, length, prot, flags, offset);
    }
    pthread_mutex_unlock(&lock);
    return result;
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap_hook(addr, length, prot, flags, fd, offset);
}
void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap_hook(addr, length, prot, flags, fd, offset);
}

/* A closed stand-in frees its slot (and the grant's files; mappings keep the memory). */
int close(int fd) {
    pthread_once(&once, resolve);
    if (fd >= 0) {
        pthread_mutex_lock(&lock);
        for (int i = 0; i < MAX_BACKENDS; i++) {
            struct backend *b = &backends[i];
            if (b->fd == fd) {
                if (b->files.fds) xpfo_files_close(&b->files);
                b->fd = -1;
            }
        }
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}
