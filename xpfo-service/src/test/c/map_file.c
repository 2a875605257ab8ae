// SPDX-License-Identifier: Apache-2.0
/*
 * Maps a file (MAP_SHARED, one page), says "MAPPED", and keeps the mapping until stdin closes: an
 * ordinary process holding an ordinary file, for tests of what a scan takes for secret memory.
 *
 *   map_file PATH
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: map_file PATH\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    void *page = mmap(NULL, (size_t) sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);
    printf("MAPPED\n");
    fflush(stdout);
    char buffer[64];
    while (read(0, buffer, sizeof buffer) > 0) {
    }
    return 0;
}
