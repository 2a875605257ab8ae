// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import dev.xpfo.testing.Child;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The C baseline that {@code ./xpfo bench} compares against builds cleanly and does its job. */
class CBaselineTest {

    @Test
    void theCBaselineCompilesWithoutWarningsPopulatesAndMakesSmallSecrets(@TempDir Path dir) throws Exception {
        Path binary = dir.resolve("memfd_secret_baseline");
        Result compiled = run("cc", "-O2", "-Wall", "-Werror", "-o", binary.toString(),
                Path.of("src/main/c/memfd_secret_baseline.c").toAbsolutePath().toString());
        assertThat(compiled.exitCode).as(compiled.output).isZero();
        Result populated = run(binary.toString(), "populate", Long.toString(1 << 20));
        assertThat(populated.exitCode).as(populated.output).isZero();
        assertThat(Long.parseLong(populated.output.trim().split("\\s+")[0])).isPositive();
        Result small = run(binary.toString(), "small", "10");
        assertThat(small.exitCode).as(small.output).isZero();
        assertThat(Long.parseLong(small.output.trim())).isPositive();
        assertThat(run(binary.toString(), "nonsense").exitCode).isEqualTo(2);
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws Exception {
        try {
            Child.Result result = Child.run(List.of(command), Duration.ofSeconds(60));
            return new Result(result.exitCode(), result.output());
        } catch (java.io.IOException e) {
            return new Result(-1, e.getMessage());
        }
    }
}
