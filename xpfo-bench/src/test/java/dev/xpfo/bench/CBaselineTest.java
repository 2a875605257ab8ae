package dev.xpfo.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The C baseline that {@code ./xpfo bench} compares against builds cleanly and does its job. */
class CBaselineTest {

    @Test
    void theCBaselineCompilesWithoutWarningsPopulatesAndMakesSmallSecrets(@TempDir Path dir) throws Exception {
        assumeTrue(run("cc", "--version").exitCode == 0, "skipped: no C compiler (./xpfo bench installs gcc)");
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
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(process.waitFor(), output);
        } catch (java.io.IOException e) {
            return new Result(-1, e.getMessage());
        }
    }
}
