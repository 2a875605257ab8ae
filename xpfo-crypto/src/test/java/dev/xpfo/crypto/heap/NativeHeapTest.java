// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.testing.Child;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The allocator's races and process edges without a JVM in the way ({@code src/test/c/xpfo_crypto_heap_test.c},
 * compiled with the allocator's source): two threads freeing one block at once, a grow callback that
 * allocates itself, closing growth while a thread is inside the callback, fork() while other
 * threads allocate (with production-style chunks: secret memory, MAP_SHARED, MADV_DONTFORK, absent in the
 * child, whose malloc must return NULL and whose free of the parent's pointers must not touch them), a
 * thread-exit destructor that allocates (no call into Java), more than 64 chunks all used (and the
 * maximum arena bytes), and refill ahead of need through the eventfd. Also built with ThreadSanitizer and
 * with AddressSanitizer + UBSan: any report fails.
 */
class NativeHeapTest {
    private static final Path ALLOCATOR = Path.of("src/main/c/xpfo_crypto_heap.c");
    private static final Path TEST = Path.of("src/test/c/xpfo_crypto_heap_test.c");

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"plain", "thread", "address,undefined"})
    void theAllocatorSurvivesItsRaces(String sanitizer, @TempDir Path directory) throws Exception {
        assertThat(ALLOCATOR).as("run from the xpfo-crypto module").exists();
        Path binary = directory.resolve("xpfo_crypto_heap_test");
        List<String> compile = new ArrayList<>(List.of("cc", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread"));
        if (!sanitizer.equals("plain")) {
            compile.addAll(List.of("-fsanitize=" + sanitizer, "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"));
        }
        compile.addAll(List.of("-o", binary.toString(), TEST.toString(), ALLOCATOR.toString()));
        Child.Result built = Child.run(compile, Duration.ofSeconds(120));
        assertThat(built.exitCode()).as("%s\n%s", compile, built.output()).isZero();

        ProcessBuilder run = new ProcessBuilder(binary.toString(), sanitizer.equals("plain") ? "200" : "50").redirectErrorStream(true);
        run.environment().put("TSAN_OPTIONS", "halt_on_error=1 exitcode=66");
        run.environment().put("ASAN_OPTIONS", "halt_on_error=1 exitcode=66");
        Child.Result result = Child.run(run, Duration.ofSeconds(300));
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).doesNotContain("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error")
                .contains("ok concurrent double frees", "ok grow callback that allocates", "ok fork while allocating",
                        "ok exiting threads never call the callback", "ok closing waits for the callback",
                        "ok more than 64 chunks", "ok refill ahead");
    }
}
