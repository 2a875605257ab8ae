// SPDX-License-Identifier: MIT
/*
 * xpfo_client: a C client of the xpfo service (`xpfo serve`), protocol version 1.
 * Specification: docs/protocol.md. One file to compile with your program:
 *
 *     cc -std=c11 -O2 -c xpfo_client.c
 *
 * A grant is memory removed from the kernel's direct map (memfd_secret files populated by the
 * service), mapped here as one contiguous range between two PROT_NONE guard pages. The mapping
 * counts against this process's RLIMIT_MEMLOCK: xpfo_grant checks that first and fails with
 * XPFO_ERR_MEMLOCK (with the remedies in xpfo_last_error) rather than waste a grant.
 *
 * Return values: 0 success; a positive service error code (XPFO_ERR_*: the service refused, the
 * message says why); a negative client error (XPFO_ERR_SYSTEM: errno is set; XPFO_ERR_PROTOCOL:
 * the service sent something this client does not understand; XPFO_ERR_MEMLOCK).
 * A client is used by one thread at a time. xpfo_connect refuses a service that is not root or this
 * user unless it listens where only root can put a socket (like /run/xpfo): whoever made the files
 * could read what is written into them.
 */
#ifndef XPFO_CLIENT_H
#define XPFO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XPFO_PROTOCOL_VERSION 1
#define XPFO_MAGIC 0x4F465058u
#define XPFO_HEADER_BYTES 12
#define XPFO_MAX_REQUEST_PAYLOAD 256
#define XPFO_MAX_REPLY_PAYLOAD (1u << 20)
#define XPFO_MAX_FDS_PER_FRAME 250
#define XPFO_GRANT_WARM_ONLY 1u

/* Frame types (docs/protocol.md, "Frame types"). */
#define XPFO_FRAME_HELLO 1
#define XPFO_FRAME_WELCOME 2
#define XPFO_FRAME_GRANT 3
#define XPFO_FRAME_CHUNKS 4
#define XPFO_FRAME_RELEASE 5
#define XPFO_FRAME_RELEASED 6
#define XPFO_FRAME_STATUS 7
#define XPFO_FRAME_STATUS_REPLY 8
#define XPFO_FRAME_ERROR 9

/* Service error codes (docs/protocol.md, "Error codes"). */
#define XPFO_ERR_BAD_REQUEST 1
#define XPFO_ERR_UNSUPPORTED_VERSION 2
#define XPFO_ERR_TOO_LARGE 3
#define XPFO_ERR_OVER_QUOTA 4
#define XPFO_ERR_RATE_LIMITED 5
#define XPFO_ERR_POOL_EXHAUSTED 6
#define XPFO_ERR_UNKNOWN_GRANT 7
#define XPFO_ERR_SHUTTING_DOWN 8
#define XPFO_ERR_INTERNAL 9
#define XPFO_ERR_BUSY 10

/* Client-side errors. */
#define XPFO_ERR_SYSTEM (-1)
#define XPFO_ERR_PROTOCOL (-2)
#define XPFO_ERR_MEMLOCK (-3)

struct xpfo_client;

/* Granted memory, mapped. Fields are read-only for the caller. */
struct xpfo_grant {
    void *addr;        /* start of the memory */
    size_t bytes;      /* whole chunks, at least what was asked */
    uint32_t chunks;   /* how many chunk files it was made of */
    uint64_t grant_id; /* the service's number for it */
    void *span;        /* the reservation: guard, memory, guard */
    size_t span_bytes;
};

/* Connects to socket_path (NULL: $XPFO_SOCKET, else /run/xpfo/xpfo.sock for root, else
 * $XDG_RUNTIME_DIR/xpfo/xpfo.sock or /tmp/xpfo-UID/xpfo.sock) and shakes hands. Even on failure
 * *out holds a client whose xpfo_last_error says why (close it); it is NULL only without memory. */
int xpfo_connect(const char *socket_path, struct xpfo_client **out);

/* Asks for bytes (rounded up to chunks) and maps them into *out. flags: 0 or XPFO_GRANT_WARM_ONLY
 * (refuse with XPFO_ERR_POOL_EXHAUSTED rather than wait for populating). */
int xpfo_grant(struct xpfo_client *client, uint64_t bytes, uint32_t flags, struct xpfo_grant *out);

/* A grant's chunk files, not mapped, for callers that must map them at an address of their own (a
 * VMM's guest RAM: map fds[i] MAP_SHARED at base + i * chunk_bytes). Mapping them counts against
 * RLIMIT_MEMLOCK like xpfo_grant. */
struct xpfo_files {
    int *fds;             /* chunk i is fds[i], a secret memory file of chunk_bytes */
    uint32_t count;
    uint64_t chunk_bytes;
    uint64_t grant_id;
};

/* Asks for bytes (rounded up to chunks) like xpfo_grant, but hands over the files instead of mapping
 * them. The memory lives while any process has a file open or mapped. */
int xpfo_grant_files(struct xpfo_client *client, uint64_t bytes, uint32_t flags, struct xpfo_files *out);

/* Closes the files (mappings made of them stay) and frees the array. */
void xpfo_files_close(struct xpfo_files *files);

/* Unmaps the memory and tells the service (if still connected); the pages return to the kernel once
 * no process holds the files. A descriptor passed on or a forked copy keeps them, and the service
 * then counts the grant against this user's quota again until they are closed. */
int xpfo_release(struct xpfo_client *client, struct xpfo_grant *grant);

/* The service's state as a JSON document; free() it. */
int xpfo_status(struct xpfo_client *client, char **json);

/* The chunk size the service grants in. */
uint64_t xpfo_chunk_bytes(const struct xpfo_client *client);

/* What the last failed call said, with remedies where there are some. */
const char *xpfo_last_error(const struct xpfo_client *client);

/* The name of a service error code ("OVER_QUOTA"), or "UNKNOWN". */
const char *xpfo_error_name(int code);

/* Drops the connection; grants stay mapped until released. */
void xpfo_close(struct xpfo_client *client);

#ifdef __cplusplus
}
#endif

#endif
