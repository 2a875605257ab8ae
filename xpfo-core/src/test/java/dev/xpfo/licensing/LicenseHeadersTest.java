// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.licensing;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every source file says its licence in an SPDX line: Apache-2.0 for the project, MIT for the C under
 * {@code clients/} (which GPLv2 programs such as QEMU compile in), as {@code LICENSE} and
 * {@code clients/LICENSE} state.
 */
class LicenseHeadersTest {

    private static Path repository() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("LICENSE"))) {
            dir = dir.getParent();
        }
        assertThat(dir).as("no LICENSE above " + Path.of("").toAbsolutePath()).isNotNull();
        return dir;
    }

    @Test
    void theProjectIsApacheAndTheClientsAreMit() throws IOException {
        Path root = repository();
        assertThat(Files.readString(root.resolve("LICENSE"))).contains("Apache License", "Version 2.0, January 2004");
        assertThat(Files.readString(root.resolve("clients/LICENSE"))).startsWith("MIT License");
    }

    @Test
    void everySourceFileNamesItsLicence() throws IOException {
        Path root = repository();
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : (Iterable<Path>) files.filter(LicenseHeadersTest::isSource)::iterator) {
                Path relative = root.relativize(file);
                String expected = relative.startsWith("clients") ? "MIT" : "Apache-2.0";
                String head = head(file);
                checked++;
                if (!head.contains("SPDX-License-Identifier: " + expected)) {
                    wrong.add(relative + " (wants " + expected + ")");
                }
            }
        }
        assertThat(checked).as("source files found").isGreaterThan(100);
        assertThat(wrong).as("files without the right SPDX line in their first lines").isEmpty();
    }

    private static boolean isSource(Path file) {
        String path = file.toString();
        if (path.contains("/target/") || path.contains("/.git/") || path.contains("/build/") || !Files.isRegularFile(file)) {
            return false;
        }
        String name = file.getFileName().toString();
        return name.endsWith(".java") || name.endsWith(".c") || name.endsWith(".h") || name.equals("pom.xml")
                || (!name.contains(".") && isScript(file));
    }

    /** The launcher and the scripts: files without an extension that start with {@code #!}. */
    private static boolean isScript(Path file) {
        try (var in = Files.newInputStream(file)) {
            byte[] start = in.readNBytes(2);
            return start.length == 2 && start[0] == '#' && start[1] == '!';
        } catch (IOException e) {
            return false;
        }
    }

    private static String head(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        String text = new String(bytes, 0, Math.min(bytes.length, 300), StandardCharsets.UTF_8);
        return text.lines().limit(3).reduce("", (a, b) -> a + b + "\n");
    }
}
