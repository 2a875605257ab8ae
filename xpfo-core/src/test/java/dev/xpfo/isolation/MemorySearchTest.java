// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.linux.Errno;
import dev.xpfo.secret.Secret;
import dev.xpfo.secret.SecretStore;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

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
}
