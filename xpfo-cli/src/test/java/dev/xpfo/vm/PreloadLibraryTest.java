package dev.xpfo.vm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The QEMU preload library on its own, in the situations QEMU puts it in. */
class PreloadLibraryTest {

    @Test
    void aForkWhileGuestRamIsBeingGrantedDoesNotHangTheChild(@TempDir Path directory) throws Exception {
        Path program = directory.resolve("fork_while_sizing");
        Guest.run(List.of("cc", "-Wall", "-Werror", "-o", program.toString(),
                Guest.repository().resolve("xpfo-cli/src/test/c/fork_while_sizing.c").toString(), "-lpthread"), 60);

        ProcessBuilder builder = new ProcessBuilder(program.toString(), directory.resolve("silent.sock").toString())
                .redirectErrorStream(true);
        builder.environment().put("LD_PRELOAD", Guest.preload().toString());
        Process run = builder.start();
        String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(run.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(run.exitValue()).as(output).isZero();
        assertThat(output).contains("child finished");
    }
}
