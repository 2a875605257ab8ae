// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.PageSize;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The one reader of a process's memory reports where each needle is, and which mappings the kernel
 * refused with what errno; over a file, a needle across its 1 MiB chunks is found exactly once.
 */
class MemorySearchTest {
    private static final int CHUNK = 1 << 20;
    private static final byte[] NEEDLE = "xpfo-needle-0123456789abcdef".getBytes();

    @TempDir
    Path dir;

    @Test
    void aNeedleAcrossAChunkBoundaryIsFoundOnceAtItsOffset() throws IOException {
        byte[] contents = new byte[3 * CHUNK];
        int across = CHUNK - NEEDLE.length / 2;
        System.arraycopy(NEEDLE, 0, contents, across, NEEDLE.length);
        System.arraycopy(NEEDLE, 0, contents, 2 * CHUNK + 5, NEEDLE.length);
        // wholly in the bytes carried from the first chunk into the second: still one hit, not two
        byte[] shortNeedle = "short".getBytes();
        int carried = 2 * CHUNK - 10;
        System.arraycopy(shortNeedle, 0, contents, carried, shortNeedle.length);
        Path file = Files.write(dir.resolve("dump"), contents);

        MemorySearch.Result result = MemorySearch.file(file, Map.of("needle", NEEDLE, "short", shortNeedle, "absent", "not-there".getBytes()));

        assertThat(result.hits("needle")).extracting(MemorySearch.Hit::address).containsExactly((long) across, 2L * CHUNK + 5);
        assertThat(result.hits("short")).extracting(MemorySearch.Hit::address).containsExactly((long) carried);
        assertThat(result.found("absent")).isFalse();
        assertThat(result.bytesRead()).isEqualTo(contents.length);
    }

    @Test
    void aHitNamesTheMappingThatHeldItAndSecretMemoryIsReportedRefusedWithTheKernelsErrno() throws IOException {
        SecretMemory.assumeAvailable();
        // The needle is searched for in this very process, where the needle's own array also lies: only
        // where it is found is asserted, not where it is not.
        try (Arena arena = Arena.ofConfined(); SecretStore store = SecretStore.open(); Secret secret = store.allocate(NEEDLE.length)) {
            MemorySegment native_ = arena.allocate(NEEDLE.length);
            native_.copyFrom(MemorySegment.ofArray(NEEDLE));
            secret.write(0, NEEDLE, 0, NEEDLE.length);
            long secretAddress = secret.readOnly(MemorySegment::address);

            MemorySearch.Result result = MemorySearch.process(ProcessHandle.current().pid(), Map.of("needle", NEEDLE));

            assertThat(result.hits("needle")).as(result.toString()).anySatisfy(hit -> {
                assertThat(hit.address()).isEqualTo(native_.address());
                assertThat(hit.mapping()).hasValueSatisfying(m -> assertThat(m.start()).isLessThanOrEqualTo(native_.address()));
            });
            assertThat(result.hits("needle")).extracting(MemorySearch.Hit::address).doesNotContain(secretAddress);
            assertThat(result.refusalCovering(secretAddress)).as(result.toString()).hasValueSatisfying(refusal -> {
                assertThat(refusal.errno()).isEqualTo(Errno.EIO);
                assertThat(refusal.mapping().path()).isEqualTo("/secretmem (deleted)");
            });
            assertThat(native_.get(JAVA_BYTE, 0)).isEqualTo(NEEDLE[0]);
        }
    }

    @Test
    void aProcessThatDoesNotExistIsAnIoErrorNotAnEmptyResult() {
        assertThatThrownBy(() -> MemorySearch.process(Integer.MAX_VALUE, Map.of("needle", NEEDLE))).isInstanceOf(IOException.class);
    }

    @Test
    void aNeedleAcrossTwoAdjacentMappingsIsFoundInTheFirst() throws IOException {
        long page = PageSize.BYTES;
        long region = map(2 * page);
        try {
            long at = region + page - NEEDLE.length / 2;
            write(at, NEEDLE);
            // read-only second page: the kernel splits the region into two mappings, rw-p then r--p
            assertThat(Libc.mprotect(region + page, page, Libc.PROT_READ)).isZero();
            List<MapsEntry> maps = new ProcessDirectory(ProcessHandle.current().pid()).maps();
            assertThat(maps).anySatisfy(m -> assertThat(m.end()).isEqualTo(region + page))
                    .anySatisfy(m -> assertThat(m.start()).isEqualTo(region + page));

            MemorySearch.Result result = MemorySearch.process(ProcessHandle.current().pid(), Map.of("needle", NEEDLE));

            assertThat(result.complete()).isTrue();
            assertThat(result.hits("needle")).as(result.toString()).anySatisfy(hit -> {
                assertThat(hit.address()).isEqualTo(at);
                assertThat(hit.mapping()).hasValueSatisfying(m -> assertThat(m.end()).isEqualTo(region + page));
            });
        } finally {
            Libc.munmap(region, 2 * page);
        }
    }

    @Test
    void aNeedleSplitAcrossAHoleBetweenTwoMappingsIsNotFound() throws IOException {
        long page = PageSize.BYTES;
        long region = map(3 * page);
        try {
            write(region + page - NEEDLE.length / 2, Arrays.copyOf(NEEDLE, NEEDLE.length / 2));
            write(region + 2 * page, Arrays.copyOfRange(NEEDLE, NEEDLE.length / 2, NEEDLE.length));
            assertThat(Libc.munmap(region + page, page)).isZero(); // the halves end and start two mappings apart

            MemorySearch.Result result = MemorySearch.process(ProcessHandle.current().pid(), Map.of("needle", NEEDLE));

            assertThat(result.hits("needle")).as(result.toString()).extracting(MemorySearch.Hit::address)
                    .noneMatch(address -> address >= region && address < region + 3 * page);
        } finally {
            Libc.munmap(region, 3 * page);
        }
    }

    @Test
    void aProcessThatExitsWhileItIsSearchedIsAnErrorNotNotFound() throws Exception {
        Process child = new ProcessBuilder("sleep", "1000").start();
        try {
            AtomicInteger mappings = new AtomicInteger();
            assertThatThrownBy(() -> MemorySearch.process(child.pid(), Map.of("needle", NEEDLE), MemorySearch.DEFAULT_LIMIT, mapping -> {
                if (mappings.incrementAndGet() == 2) { // the first mapping is read, the rest is not
                    child.destroyForcibly();
                    try {
                        child.waitFor();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            })).isInstanceOf(MemorySearch.ProcessExitedException.class).hasMessageContaining("exited while it was searched");
            assertThat(mappings).hasValue(2);
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aZombieIsReportedExitedNotRefused() throws Exception {
        // A zombie keeps its number and /proc/PID, its maps list nothing and its memory cannot be opened
        // (ESRCH): it has exited, which is not a refusal to read it. `sleep 0.2` becomes a child of
        // `sleep 1000`, which never reaps it.
        Process parent = new ProcessBuilder("sh", "-c", "sleep 0.2 & echo $!; exec sleep 1000").start();
        try {
            long zombie = Long.parseLong(new BufferedReader(new InputStreamReader(parent.getInputStream())).readLine().trim());
            Path status = Path.of("/proc/" + zombie + "/status");
            while (Files.readAllLines(status).stream().noneMatch(line -> line.startsWith("State:") && line.contains("Z"))) {
                Thread.sleep(10);
            }

            assertThatThrownBy(() -> MemorySearch.process(zombie, Map.of("needle", NEEDLE)))
                    .isInstanceOf(MemorySearch.ProcessExitedException.class);
        } finally {
            parent.destroyForcibly();
        }
    }

    @Test
    void aSearchStoppedByItsLimitCannotSayNotFound() throws IOException {
        // a hostile process maps far more readable memory than can be read: a terabyte costs it nothing
        long huge = 1L << 30;
        long region = Libc.mmap(0, huge, Libc.PROT_READ, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        assertThat(region).isNotEqualTo(Libc.MAP_FAILED);
        try {
            long limit = 8 << 20;

            MemorySearch.Result result = MemorySearch.process(ProcessHandle.current().pid(), Map.of("absent", "xpfo-not-there".getBytes()), limit);

            assertThat(result.complete()).as(result.toString()).isFalse();
            assertThat(result.bytesRead()).isEqualTo(limit);
            assertThat(result.stopped()).hasValueSatisfying(why -> assertThat(why).contains("limit"));
            assertThat(result.toString()).startsWith("INCOMPLETE");
            assertThatThrownBy(() -> result.found("absent")).isInstanceOf(MemorySearch.IncompleteSearchException.class);
        } finally {
            Libc.munmap(region, huge);
        }
    }

    @Test
    void aNeedleFoundBeforeTheLimitIsFound() throws IOException {
        byte[] copy = NEEDLE.clone(); // lies in the heap, read long before a whole-process limit of 4 GiB
        MemorySearch.Result result = MemorySearch.process(ProcessHandle.current().pid(), Map.of("needle", copy), 4L << 30);

        assertThat(result.found("needle")).as(result.toString()).isTrue();
    }

    private static long map(long length) {
        long region = Libc.mmap(0, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        assertThat(region).isNotEqualTo(Libc.MAP_FAILED);
        return region;
    }

    private static void write(long address, byte[] bytes) {
        MemorySegment.ofAddress(address).reinterpret(bytes.length).copyFrom(MemorySegment.ofArray(bytes));
    }
}
