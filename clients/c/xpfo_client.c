// SPDX-License-Identifier: MIT
/* xpfo_client.c: see xpfo_client.h and docs/protocol.md. */
#define _GNU_SOURCE
#include "xpfo_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/un.h>
#include <unistd.h>

struct xpfo_client {
    int fd;
    uint32_t next_request;
    uint16_t version;
    uint64_t chunk_bytes;
    uint64_t max_grant_bytes;
    char error[512];
};

struct frame {
    uint16_t type;
    uint32_t request;
    uint32_t length;
    unsigned char *payload;
    int fds[XPFO_MAX_FDS_PER_FRAME];
    int nfds;
};

static int fail(struct xpfo_client *c, int code, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(c->error, sizeof c->error, format, args);
    va_end(args);
    return code;
}

static void put16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint16_t get16(const unsigned char *p) { return (uint16_t) (p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

const char *xpfo_error_name(int code) {
    static const char *names[] = {"", "BAD_REQUEST", "UNSUPPORTED_VERSION", "TOO_LARGE", "OVER_QUOTA",
                                  "RATE_LIMITED", "POOL_EXHAUSTED", "UNKNOWN_GRANT", "SHUTTING_DOWN", "INTERNAL", "BUSY"};
    return code > 0 && code <= XPFO_ERR_BUSY ? names[code] : "UNKNOWN";
}

static int send_frame(struct xpfo_client *c, uint16_t type, uint32_t request, const unsigned char *payload, uint32_t length) {
    unsigned char buffer[XPFO_HEADER_BYTES + XPFO_MAX_REQUEST_PAYLOAD];
    put32(buffer, length);
    put16(buffer + 4, type);
    put16(buffer + 6, 0);
    put32(buffer + 8, request);
    if (length > XPFO_MAX_REQUEST_PAYLOAD) return fail(c, XPFO_ERR_PROTOCOL, "request too long");
    if (length) memcpy(buffer + XPFO_HEADER_BYTES, payload, length);
    size_t total = XPFO_HEADER_BYTES + length, sent = 0;
    while (sent < total) {
        ssize_t n = send(c->fd, buffer + sent, total - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(c, XPFO_ERR_SYSTEM, "send: %s", strerror(errno));
        sent += (size_t) n;
    }
    return 0;
}

/* Reads exactly n bytes, collecting descriptors that arrive with them. */
static int receive_exactly(struct xpfo_client *c, unsigned char *into, size_t n, struct frame *f) {
    size_t got = 0;
    while (got < n) {
        union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(int) * XPFO_MAX_FDS_PER_FRAME)]; } control;
        struct iovec iov = {into + got, n - got};
        struct msghdr message = {0};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control.space;
        message.msg_controllen = sizeof control.space;
        ssize_t r = recvmsg(c->fd, &message, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail(c, XPFO_ERR_SYSTEM, "recvmsg: %s", strerror(errno));
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                int count = (int) ((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                for (int i = 0; i < count; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
                    if (f->nfds < XPFO_MAX_FDS_PER_FRAME) f->fds[f->nfds++] = fd; else close(fd);
                }
            }
        }
        if (message.msg_flags & MSG_CTRUNC)
            return fail(c, XPFO_ERR_PROTOCOL, "descriptors truncated: more than a frame may carry, or this process is at its "
                        "descriptor limit (ulimit -n)");
        if (r == 0) return fail(c, XPFO_ERR_PROTOCOL, "the service closed the connection");
        got += (size_t) r;
    }
    return 0;
}

static void discard(struct frame *f) {
    for (int i = 0; i < f->nfds; i++) close(f->fds[i]);
    f->nfds = 0;
    free(f->payload);
    f->payload = NULL;
}

/* Reads one frame answering request; an ERROR frame becomes its code and message. */
static int receive_frame(struct xpfo_client *c, uint32_t request, struct frame *f) {
    unsigned char header[XPFO_HEADER_BYTES];
    memset(f, 0, sizeof *f);
    int rc = receive_exactly(c, header, sizeof header, f);
    if (rc == 0) {
        f->length = get32(header);
        f->type = get16(header + 4);
        f->request = get32(header + 8);
        if (f->length > XPFO_MAX_REPLY_PAYLOAD || get16(header + 6) != 0) {
            rc = fail(c, XPFO_ERR_PROTOCOL, "bad frame header from the service");
        }
    }
    if (rc == 0) {
        f->payload = malloc(f->length + 1);
        if (!f->payload) rc = fail(c, XPFO_ERR_SYSTEM, "out of memory");
        else rc = receive_exactly(c, f->payload, f->length, f);
    }
    if (rc == 0 && f->type == XPFO_FRAME_ERROR && f->length >= 4) {
        int code = get16(f->payload);
        rc = fail(c, code > 0 ? code : XPFO_ERR_PROTOCOL, "%s: %.*s", xpfo_error_name(code), (int) f->length - 4,
                  (const char *) f->payload + 4);
    } else if (rc == 0 && f->request != request) {
        rc = fail(c, XPFO_ERR_PROTOCOL, "reply to request %u while waiting for %u", f->request, request);
    }
    if (rc != 0) discard(f);
    return rc;
}

/* Whether only root could have put a socket in the directory holding path: it and every directory
 * above it are owned by root, not writable by group or others, and not symbolic links. */
static int only_root_could_listen_in(const char *path) {
    char dir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash) return 0; /* relative path: not checked, not trusted */
        if (slash == dir) slash[1] = 0; else *slash = 0;
        struct stat st;
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022)) return 0;
        if (strcmp(dir, "/") == 0) return 1;
    }
}

static void default_path(char *path, size_t size) {
    const char *configured = getenv("XPFO_SOCKET");
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (configured && *configured) snprintf(path, size, "%s", configured);
    else if (geteuid() == 0) snprintf(path, size, "/run/xpfo/xpfo.sock");
    else if (runtime && *runtime) snprintf(path, size, "%s/xpfo/xpfo.sock", runtime);
    else snprintf(path, size, "/tmp/xpfo-%u/xpfo.sock", (unsigned) geteuid());
}

int xpfo_connect(const char *socket_path, struct xpfo_client **out) {
    struct xpfo_client *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return XPFO_ERR_SYSTEM;
    c->next_request = 1;
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    if (socket_path) snprintf(path, sizeof path, "%s", socket_path); else default_path(path, sizeof path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return fail(c, XPFO_ERR_SYSTEM, "socket: %s", strerror(errno));
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
    if (connect(c->fd, (struct sockaddr *) &address, sizeof address) != 0) {
        int e = errno;
        return fail(c, XPFO_ERR_SYSTEM, "connect to %s: %s%s", path, strerror(e),
                    e == EACCES ? " (the socket's mode or group shuts this user out: ask for the service's group)"
                    : e == ENOENT || e == ECONNREFUSED ? " (start the service with `xpfo serve`)" : "");
    }
    /* Whoever made the files can read what is written into them: trust root, this user, or a
     * service listening where only root can put a socket (such as /run/xpfo from systemd). */
    struct ucred peer;
    socklen_t peer_length = sizeof peer;
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0) {
        return fail(c, XPFO_ERR_SYSTEM, "getsockopt(SO_PEERCRED): %s", strerror(errno));
    }
    if (peer.uid != 0 && peer.uid != geteuid() && !only_root_could_listen_in(path)) {
        return fail(c, XPFO_ERR_PROTOCOL, "refusing the service at %s: it runs as uid %u, not root or this user, and "
                    "listens where others than root can put a socket, so it could be anybody's", path, (unsigned) peer.uid);
    }
    unsigned char hello[8];
    put32(hello, XPFO_MAGIC);
    put16(hello + 4, XPFO_PROTOCOL_VERSION);
    put16(hello + 6, XPFO_PROTOCOL_VERSION);
    int rc = send_frame(c, XPFO_FRAME_HELLO, 0, hello, sizeof hello);
    struct frame f;
    if (rc) {
        /* The service may have refused at once (BUSY, SHUTTING_DOWN) and hung up: read why. */
        char why[sizeof c->error];
        memcpy(why, c->error, sizeof why);
        int refused = receive_frame(c, 0, &f);
        if (refused > 0) return refused;
        if (refused == 0) discard(&f);
        memcpy(c->error, why, sizeof why);
        return rc;
    }
    rc = receive_frame(c, 0, &f);
    if (rc) return rc;
    if (f.type != XPFO_FRAME_WELCOME || f.length != 24) {
        discard(&f);
        return fail(c, XPFO_ERR_PROTOCOL, "expected WELCOME");
    }
    c->version = get16(f.payload);
    c->chunk_bytes = get64(f.payload + 8);
    c->max_grant_bytes = get64(f.payload + 16);
    discard(&f);
    if (c->version != XPFO_PROTOCOL_VERSION || c->chunk_bytes == 0 || c->chunk_bytes % (uint64_t) sysconf(_SC_PAGESIZE) != 0) {
        return fail(c, XPFO_ERR_PROTOCOL, "service answered version %u with chunks of %llu bytes; this client speaks version %d",
                    c->version, (unsigned long long) c->chunk_bytes, XPFO_PROTOCOL_VERSION);
    }
    return 0;
}

uint64_t xpfo_chunk_bytes(const struct xpfo_client *c) { return c->chunk_bytes; }

const char *xpfo_last_error(const struct xpfo_client *c) { return c ? c->error : "out of memory"; }

/* Fails with XPFO_ERR_MEMLOCK if mapping bytes more would pass RLIMIT_MEMLOCK (without CAP_IPC_LOCK). */
static int check_memlock(struct xpfo_client *c, uint64_t bytes) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
    unsigned long long locked_kib = 0, cap_eff = 0;
    FILE *status = fopen("/proc/self/status", "r");
    if (status) {
        char line[256];
        while (fgets(line, sizeof line, status)) {
            sscanf(line, "VmLck: %llu kB", &locked_kib);
            sscanf(line, "CapEff: %llx", &cap_eff);
        }
        fclose(status);
    }
    if (cap_eff & (1ull << 14)) return 0; /* CAP_IPC_LOCK lifts the limit */
    if (locked_kib * 1024 + bytes <= limit.rlim_cur) return 0;
    return fail(c, XPFO_ERR_MEMLOCK, "mapping %llu bytes of secret memory exceeds RLIMIT_MEMLOCK (soft limit %llu bytes, "
                "%llu already locked): raise it (`ulimit -l`, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK",
                (unsigned long long) bytes, (unsigned long long) limit.rlim_cur, locked_kib * 1024);
}

#define SECRETMEM_MAGIC 0x5345434d /* include/uapi/linux/magic.h */

static int is_secret_memory(int fd, uint64_t size) {
    char link[64], target[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    struct stat st;
    struct statfs fs;
    /* The file system's magic number, not the name alone: only the kernel's secretmem has it. */
    return strcmp(target, "/secretmem (deleted)") == 0 && fstatfs(fd, &fs) == 0 && fs.f_type == SECRETMEM_MAGIC
           && fstat(fd, &st) == 0 && (uint64_t) st.st_size == size;
}

static int send_release(struct xpfo_client *c, uint64_t grant_id) {
    unsigned char payload[8];
    put64(payload, grant_id);
    uint32_t request = c->next_request++;
    int rc = send_frame(c, XPFO_FRAME_RELEASE, request, payload, sizeof payload);
    if (rc) return rc;
    struct frame f;
    rc = receive_frame(c, request, &f);
    if (rc) return rc;
    rc = f.type == XPFO_FRAME_RELEASED ? 0 : fail(c, XPFO_ERR_PROTOCOL, "expected RELEASED");
    discard(&f);
    return rc;
}

/* Receives the grant's chunk files, each checked to be secret memory of the chunk size. On failure
 * nothing is kept: a grant received in full is released, a stream out of step is hung up on (the
 * service releases whatever a closed connection held). */
int xpfo_grant_files(struct xpfo_client *c, uint64_t bytes, uint32_t flags, struct xpfo_files *out) {
    memset(out, 0, sizeof *out);
    if (c->fd < 0 || c->chunk_bytes == 0) return fail(c, XPFO_ERR_SYSTEM, "not connected");
    if (bytes == 0) return fail(c, XPFO_ERR_PROTOCOL, "a grant needs a positive size");
    uint64_t chunk = c->chunk_bytes;
    uint64_t rounded = (bytes + chunk - 1) / chunk * chunk;
    int rc = check_memlock(c, rounded);
    if (rc) return rc;
    unsigned char payload[16];
    put64(payload, bytes);
    put32(payload + 8, flags);
    put32(payload + 12, 0);
    uint32_t request = c->next_request++;
    rc = send_frame(c, XPFO_FRAME_GRANT, request, payload, sizeof payload);
    if (rc) return rc;

    int *fds = NULL;
    uint32_t total = 0, have = 0;
    uint64_t grant_id = 0;
    for (;;) {
        struct frame f;
        rc = receive_frame(c, request, &f);
        if (rc) break;
        if (f.type != XPFO_FRAME_CHUNKS || f.length != 32) {
            discard(&f);
            rc = fail(c, XPFO_ERR_PROTOCOL, "expected CHUNKS");
            break;
        }
        grant_id = get64(f.payload);
        uint64_t chunk_bytes = get64(f.payload + 8);
        uint32_t frame_total = get32(f.payload + 16), first = get32(f.payload + 20), count = get32(f.payload + 24);
        if (!fds) {
            total = frame_total;
            fds = total > 0 && (uint64_t) total * chunk == rounded ? calloc(total, sizeof(int)) : NULL;
        }
        if (!fds || frame_total != total || first != have || count != (uint32_t) f.nfds || count == 0 || first + count > total
            || chunk_bytes != chunk) {
            discard(&f);
            rc = fail(c, XPFO_ERR_PROTOCOL, "CHUNKS frame inconsistent with the grant");
            break;
        }
        memcpy(fds + have, f.fds, count * sizeof(int));
        have += count;
        f.nfds = 0;
        discard(&f);
        if (have == total) break;
    }
    int in_step = rc == 0;
    for (uint32_t i = 0; i < total && rc == 0; i++) {
        if (!is_secret_memory(fds[i], chunk)) rc = fail(c, XPFO_ERR_PROTOCOL, "chunk %u is not a secret memory file of %llu bytes", i, (unsigned long long) chunk);
    }
    if (rc != 0) {
        for (uint32_t i = 0; i < have; i++) close(fds[i]);
        free(fds);
        if (in_step) {
            char why[sizeof c->error];
            memcpy(why, c->error, sizeof why);
            send_release(c, grant_id);
            memcpy(c->error, why, sizeof why);
        } else if (total > 0 || rc < 0) {
            /* A system or protocol error mid-exchange: the stream may be out of step. */
            close(c->fd);
            c->fd = -1;
        }
        return rc;
    }
    out->fds = fds;
    out->count = total;
    out->chunk_bytes = chunk;
    out->grant_id = grant_id;
    return 0;
}

void xpfo_files_close(struct xpfo_files *files) {
    for (uint32_t i = 0; i < files->count; i++) close(files->fds[i]);
    free(files->fds);
    memset(files, 0, sizeof *files);
}

int xpfo_grant(struct xpfo_client *c, uint64_t bytes, uint32_t flags, struct xpfo_grant *out) {
    memset(out, 0, sizeof *out);
    struct xpfo_files files;
    int rc = xpfo_grant_files(c, bytes, flags, &files);
    if (rc) return rc;
    uint64_t chunk = files.chunk_bytes, rounded = (uint64_t) files.count * chunk;
    long page = sysconf(_SC_PAGESIZE);
    size_t span_bytes = rounded + 2 * (size_t) page;
    unsigned char *span = mmap(NULL, span_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (span == MAP_FAILED) rc = fail(c, XPFO_ERR_SYSTEM, "reserving %zu bytes: %s", span_bytes, strerror(errno));
    for (uint32_t i = 0; i < files.count && rc == 0; i++) {
        if (mmap(span + page + i * chunk, chunk, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, files.fds[i], 0) == MAP_FAILED) {
            rc = errno == EAGAIN ? fail(c, XPFO_ERR_MEMLOCK, "mapping the grant was refused by RLIMIT_MEMLOCK (EAGAIN): "
                                        "raise it (`ulimit -l`, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK")
                                 : fail(c, XPFO_ERR_SYSTEM, "mapping chunk %u: %s", i, strerror(errno));
        }
    }
    if (rc == 0 && madvise(span + page, rounded, MADV_DONTFORK) != 0) {
        rc = fail(c, XPFO_ERR_SYSTEM, "madvise(MADV_DONTFORK): %s", strerror(errno));
    }
    uint64_t grant_id = files.grant_id;
    uint32_t chunks = files.count;
    xpfo_files_close(&files);
    if (rc != 0) {
        if (span != MAP_FAILED) munmap(span, span_bytes);
        if (c->fd >= 0) {
            char why[sizeof c->error];
            memcpy(why, c->error, sizeof why);
            send_release(c, grant_id);
            memcpy(c->error, why, sizeof why);
        }
        return rc;
    }
    out->addr = span + page;
    out->bytes = rounded;
    out->chunks = chunks;
    out->grant_id = grant_id;
    out->span = span;
    out->span_bytes = span_bytes;
    return 0;
}

int xpfo_release(struct xpfo_client *c, struct xpfo_grant *grant) {
    if (!grant->span) return 0;
    munmap(grant->span, grant->span_bytes);
    grant->span = NULL;
    grant->addr = NULL;
    return c->fd >= 0 ? send_release(c, grant->grant_id) : 0;
}

int xpfo_status(struct xpfo_client *c, char **json) {
    *json = NULL;
    if (c->fd < 0) return fail(c, XPFO_ERR_SYSTEM, "not connected");
    uint32_t request = c->next_request++;
    int rc = send_frame(c, XPFO_FRAME_STATUS, request, NULL, 0);
    if (rc) return rc;
    struct frame f;
    rc = receive_frame(c, request, &f);
    if (rc) return rc;
    if (f.type != XPFO_FRAME_STATUS_REPLY) {
        discard(&f);
        return fail(c, XPFO_ERR_PROTOCOL, "expected STATUS_REPLY");
    }
    f.payload[f.length] = 0;
    *json = (char *) f.payload;
    f.payload = NULL;
    discard(&f);
    return 0;
}

void xpfo_close(struct xpfo_client *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c);
}
