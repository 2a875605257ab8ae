// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** Reading the kernel's {@code /proc} and {@code /sys} text files, which are small and line-oriented. */
public final class ProcFiles {
    private ProcFiles() {
    }

    /**
     * The whole file, or an empty string if it does not exist or cannot be read. Read as bytes
     * (ISO-8859-1): the kernel prints process and file names as they are, and one name that is not
     * UTF-8 must not make a whole file unreadable.
     */
    public static String read(Path file) {
        try {
            return Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * The whole text behind an open descriptor of a {@code /proc} file another process opened and passed
     * (its access was checked when it was opened, for the opener), read from its start; closes it.
     *
     * @throws IOException with the errno of a failed {@code read}
     */
    public static String readAndClose(int fd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(1 << 16);
            java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
            for (long n; (n = Libc.read(fd, buffer, buffer.byteSize())) != 0; ) {
                if (n < 0) {
                    throw new IOException("read of descriptor " + fd + " failed with errno " + Libc.errno());
                }
                text.write(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
            }
            return text.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        } finally {
            Libc.close(fd);
        }
    }

    /** The value after {@code name:} on a {@code name: value} line, trimmed. */
    public static Optional<String> field(String text, String name) {
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return Optional.of(line.substring(colon + 1).trim());
            }
        }
        return Optional.empty();
    }

    /** {@code name value} lines, as in {@code /proc/vmstat}. */
    public static Map<String, Long> counters(String text) {
        Map<String, Long> counters = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 2) {
                try {
                    counters.put(parts[0], Long.parseLong(parts[1]));
                } catch (NumberFormatException ignored) {
                    // not a counter line
                }
            }
        }
        return counters;
    }

    /** {@code "30720 kB"} as bytes. */
    public static long kilobytes(String value) {
        String number = value.replace("kB", "").trim();
        return Long.parseLong(number) * 1024;
    }
}
