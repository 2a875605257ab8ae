// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The usual leak in Java is a copy on the heap: a heap dump of a process holding a secret must not show it. */
class HeapDumpTest {

    @Test
    void aHeapDumpHoldsTheControlMarkerButNotTheSecretOne(@TempDir Path dir) throws Exception {
        SecretMemory.assumeAvailable();
        Path dump = dir.resolve("heap.hprof");
        TestJvm.Result result = TestJvm.run(HeapDumpChild.class, dump.toString());
        assertThat(result.exitCode()).as(result.output()).isZero();

        String secretMarker = field(result.output(), "secret-marker");
        assertThat(field(result.output(), "secret-after-dump")).as("the secret held the marker").isEqualTo(secretMarker);
        byte[] heap = Files.readAllBytes(dump);
        assertThat(indexOf(heap, HexFormat.of().parseHex(field(result.output(), "control-marker"))))
                .as("the control marker in a byte[] is in the dump").isNotNegative();
        assertThat(indexOf(heap, HexFormat.of().parseHex(secretMarker))).as("the secret's marker is in the dump").isEqualTo(-1);
    }

    private static String field(String output, String name) {
        Matcher matcher = Pattern.compile(name + " ([0-9a-f]{64})").matcher(output);
        assertThat(matcher.find()).as(name + " in " + output).isTrue();
        return matcher.group(1);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
