// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** This process's open descriptors as the kernel lists them in {@code /proc/self/fd}, independently of xpfo's code. */
public final class OpenDescriptors {
    private OpenDescriptors() {
    }

    /** What descriptor {@code fd} refers to, such as {@code pipe:[1234]} or {@code /secretmem (deleted)}. */
    public static String target(int fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/self/fd", Integer.toString(fd))).toString();
    }

    /** The descriptors of this process that refer to {@code target} (as {@link #target} names it), in order. */
    public static List<Integer> on(String target) throws IOException {
        List<Integer> found = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals(target)) {
                        found.add(Integer.parseInt(fd.getFileName().toString()));
                    }
                } catch (NoSuchFileException e) {
                    // Closed while listing (the directory stream's own descriptor, for one).
                }
            }
        }
        found.sort(null);
        return found;
    }
}
