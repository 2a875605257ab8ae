// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A file a process holds open, as its descriptor's link in {@code /proc/PID/fd} shows it.
 *
 * @param target the link's text: the file's path as the kernel prints it ({@value SecretMemoryFiles#NAME},
 *               {@code socket:[1234]}, ...)
 * @param device the device of the open file itself ({@code stat} through the link)
 * @param inode  its inode
 * @param size   its size in bytes
 */
public record OpenFile(String target, DeviceNumber device, long inode, long size) {
    /**
     * Reads descriptor link {@code link} ({@code /proc/PID/fd/N}, or {@code /proc/self/fd/N}).
     *
     * @throws java.nio.file.NoSuchFileException   if the descriptor was closed, or the process exited
     * @throws java.nio.file.AccessDeniedException if this process may not inspect that one (ptrace access)
     */
    public static OpenFile of(Path link) throws IOException {
        String target = Files.readSymbolicLink(link).toString();
        // stat follows the link to the open file, whatever its name says.
        long device = ((Number) Files.getAttribute(link, "unix:dev")).longValue();
        long inode = ((Number) Files.getAttribute(link, "unix:ino")).longValue();
        return new OpenFile(target, DeviceNumber.of(device), inode, Files.size(link));
    }
}
