// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A key file read straight into secret memory, its page cache dropped, wiped on close. */
class SecretFileContentsTest {
    @TempDir
    Path directory;

    private Path fileOf(byte[] bytes) throws IOException {
        Path file = directory.resolve("key.der");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(bytes));
            channel.force(true); // clean pages: the kernel drops only those
        }
        return file;
    }

    @Test
    void theFileIsReadWholeIntoSecretMemory() throws IOException {
        byte[] bytes = new byte[10_000];
        new Random(13).nextBytes(bytes);
        try (SecretFileContents contents = SecretFileContents.read(fileOf(bytes), 64 * 1024)) {
            assertThat(contents.contents().byteSize()).isEqualTo(bytes.length);
            assertThat(contents.contents().toArray(JAVA_BYTE)).isEqualTo(bytes);
        }
    }

    @Test
    void closingMakesTheContentsUnreachable() throws IOException {
        SecretFileContents contents = SecretFileContents.read(fileOf("secret".getBytes(StandardCharsets.US_ASCII)), 1024);
        MemorySegment memory = contents.contents();
        contents.close();
        assertThatThrownBy(() -> memory.get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void theFilesPageCacheIsDroppedAfterTheRead() throws Exception {
        byte[] bytes = new byte[64 * 1024];
        new Random(7).nextBytes(bytes);
        Path file = fileOf(bytes);
        Files.readAllBytes(file); // the page cache now holds the file
        assertThat(cachedBytes(file)).isPositive();
        try (SecretFileContents contents = SecretFileContents.read(file, 128 * 1024)) {
            assertThat(contents.contents().byteSize()).isEqualTo(bytes.length);
        }
        assertThat(cachedBytes(file)).isZero();
    }

    /** The file's bytes in the page cache, as the kernel reports them (mincore, through util-linux fincore). */
    private static long cachedBytes(Path file) throws Exception {
        Process fincore = new ProcessBuilder("fincore", "--bytes", "--noheadings", "--output", "RES", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(fincore.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertThat(fincore.waitFor()).as(out).isZero();
        return Long.parseLong(out);
    }

    @Test
    void aFileLargerThanTheLimitIsRefused() throws IOException {
        Path file = fileOf(new byte[2049]);
        assertThatThrownBy(() -> SecretFileContents.read(file, 2048)).isInstanceOf(InvalidSizeException.class).hasMessageContaining("2048");
    }

    @Test
    void aMissingFileNamesTheCallAndErrno() {
        assertThatThrownBy(() -> SecretFileContents.read(directory.resolve("absent.pem"), 1024))
                .isInstanceOf(NativeCallException.class)
                .satisfies(e -> assertThat(((NativeCallException) e).errno()).isEqualTo(Errno.ENOENT))
                .hasMessageContaining("open");
    }
}
