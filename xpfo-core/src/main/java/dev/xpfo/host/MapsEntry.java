// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.util.ArrayList;
import java.util.List;

/**
 * One mapping of a process as {@code /proc/PID/maps} or {@code /proc/PID/smaps} shows it: the one
 * parser of those files.
 *
 * <p>The kernel prints {@code start-end perms offset major:minor inode}, pads with spaces, and then the
 * path or label. The path is kept exactly as printed, with its inner and trailing spaces and the
 * kernel's {@code " (deleted)"} suffix for an unlinked file (a file named {@code "x (deleted)"} is
 * therefore indistinguishable from an unlinked {@code x}, which is why secret memory is also told by
 * its device: {@link SecretMemoryFiles}). A newline in a file name is printed as {@code \012}, so one
 * line is always one mapping.
 *
 * @param start       first address
 * @param end         address past the last byte
 * @param permissions such as {@code rw-s} or {@code ---p}
 * @param offset      offset in the file
 * @param device      the file's device, {@code 00:00} for anonymous memory
 * @param inode       the file's inode, 0 for anonymous memory
 * @param path        the file or label ({@value SecretMemoryFiles#NAME}, {@code [heap]}); empty for anonymous memory
 * @param flags       from smaps only, the kernel's two-letter {@code VmFlags} ({@code lo} locked,
 *                    {@code dd} not dumped, {@code dc} not copied on fork, ...); empty from maps
 */
public record MapsEntry(long start, long end, String permissions, long offset, DeviceNumber device, long inode,
                        String path, List<String> flags) {
    public MapsEntry {
        flags = List.copyOf(flags);
    }

    /**
     * Parses one line of maps, or the header line of one mapping in smaps.
     *
     * @throws IllegalArgumentException if it is not such a line
     */
    public static MapsEntry parse(String line) {
        return parse(line, List.of());
    }

    /**
     * Every mapping in the text of a maps or smaps file, in the order printed (address order); an
     * smaps mapping with its {@code VmFlags}.
     *
     * @throws IllegalArgumentException if a line is neither a mapping nor an smaps {@code Key: value} line
     */
    public static List<MapsEntry> parseAll(String text) {
        List<MapsEntry> entries = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            // smaps's "Key: value" lines have their colon in the first word; a mapping's first word is its range.
            int colon = line.indexOf(':');
            int space = line.indexOf(' ');
            if (colon < 0 || (space >= 0 && space < colon)) {
                entries.add(parse(line));
            } else if (line.startsWith("VmFlags:") && !entries.isEmpty()) {
                MapsEntry last = entries.removeLast();
                String words = line.substring("VmFlags:".length()).strip();
                entries.add(last.withFlags(words.isEmpty() ? List.of() : List.of(words.split("\\s+"))));
            }
        }
        return entries;
    }

    private static MapsEntry parse(String line, List<String> flags) {
        // Five fields, each followed by exactly one space; then padding, then the path to the line's end.
        int[] ends = new int[5];
        int at = 0;
        for (int i = 0; i < 5; i++) {
            int space = line.indexOf(' ', at);
            ends[i] = space < 0 ? line.length() : space;
            if (ends[i] == at) {
                throw new IllegalArgumentException("not a maps line: " + line);
            }
            at = Math.min(ends[i] + 1, line.length());
        }
        try {
            String range = line.substring(0, ends[0]);
            int dash = range.indexOf('-');
            long start = Long.parseUnsignedLong(range, 0, dash, 16);
            long end = Long.parseUnsignedLong(range, dash + 1, range.length(), 16);
            String permissions = line.substring(ends[0] + 1, ends[1]);
            long offset = Long.parseUnsignedLong(line, ends[1] + 1, ends[2], 16);
            DeviceNumber device = DeviceNumber.parse(line.substring(ends[2] + 1, ends[3]));
            long inode = Long.parseUnsignedLong(line, ends[3] + 1, ends[4], 10);
            // Every path starts with '/' and every label with '[': leading spaces are the padding.
            String path = ends[4] >= line.length() ? "" : line.substring(ends[4] + 1).stripLeading();
            if (permissions.length() != 4) {
                throw new IllegalArgumentException("not a maps line (permissions " + permissions + "): " + line);
            }
            return new MapsEntry(start, end, permissions, offset, device, inode, path, flags);
        } catch (IndexOutOfBoundsException | NumberFormatException e) {
            throw new IllegalArgumentException("not a maps line: " + line, e);
        }
    }

    private MapsEntry withFlags(List<String> flags) {
        return new MapsEntry(start, end, permissions, offset, device, inode, path, flags);
    }

    /** The mapping's size. */
    public long bytes() {
        return end - start;
    }

    /** True if {@code address} lies in the mapping. */
    public boolean contains(long address) {
        return Long.compareUnsigned(start, address) <= 0 && Long.compareUnsigned(address, end) < 0;
    }

    /** True if the mapping is shared ({@code s}), not private copy-on-write ({@code p}). */
    public boolean isShared() {
        return permissions.endsWith("s");
    }

    /**
     * True if the mapping is a secret memory file of this kernel: {@link SecretMemoryFiles#isSecretMemory(MapsEntry)}.
     */
    public boolean isSecretMemory() {
        return SecretMemoryFiles.isSecretMemory(this);
    }
}
