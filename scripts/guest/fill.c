// SPDX-License-Identifier: Apache-2.0
/*
 * The test guest's only program: writes a random marker across all the memory the guest kernel has
 * free, then holds it until the VM is stopped. The host looks for the marker in guest RAM.
 *
 * The console line carries the marker as hex text, while memory holds its bytes XORed with 0xA5:
 * the text passes through QEMU's own (readable) buffers on its way out, the pattern must exist
 * only in guest RAM, so finding the pattern from the host means guest RAM was readable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define MARKER_BYTES 32
#define KEEP_FREE (6L << 20) /* left to the guest kernel so it does not kill us */

static long mem_free(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemFree: %ld kB", &kib) == 1) break;
    }
    if (f) fclose(f);
    return kib * 1024;
}

int main(void) {
    unsigned char marker[MARKER_BYTES], pattern[MARKER_BYTES];
    if (getrandom(marker, sizeof marker, 0) != sizeof marker) {
        perror("xpfo-guest: getrandom");
        return 1;
    }
    for (int i = 0; i < MARKER_BYTES; i++) pattern[i] = marker[i] ^ 0xA5;

    long page = sysconf(_SC_PAGESIZE);
    long free_bytes = mem_free();
    if (free_bytes < 0) {
        fprintf(stderr, "xpfo-guest: no MemFree in /proc/meminfo\n");
        return 1;
    }
    size_t bytes = free_bytes > KEEP_FREE ? (size_t) (free_bytes - KEEP_FREE) / page * page : 0;
    unsigned char *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        perror("xpfo-guest: mmap");
        return 1;
    }
    for (size_t offset = 0; offset < bytes; offset += MARKER_BYTES) memcpy(memory + offset, pattern, MARKER_BYTES);

    printf("xpfo-guest: filled %zu MiB with marker ", bytes >> 20);
    for (int i = 0; i < MARKER_BYTES; i++) printf("%02x", marker[i]);
    printf("\n");
    fflush(stdout);
    for (;;) pause();
}
