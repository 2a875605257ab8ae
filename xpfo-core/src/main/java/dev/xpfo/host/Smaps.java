package dev.xpfo.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Reads a process's mappings from {@code /proc/PID/smaps}: where each is, its permissions, file and flags. */
public final class Smaps {
    private static final Pattern HEADER = Pattern.compile("[0-9a-f]+-[0-9a-f]+ ");

    /**
     * One mapping.
     *
     * @param start       first address
     * @param end         address past the last byte
     * @param permissions such as {@code rw-s} or {@code ---p}
     * @param name        the file or label ({@code /secretmem (deleted)}, {@code [heap]}); empty for anonymous memory
     * @param flags       the kernel's two-letter {@code VmFlags} ({@code lo} locked, {@code dd} not dumped,
     *                    {@code dc} not copied on fork, ...)
     */
    public record Entry(long start, long end, String permissions, String name, List<String> flags) {
        /** True if the mapping is a secret memory file. */
        public boolean isSecretMemory() {
            return name.startsWith("/secretmem");
        }
    }

    private Smaps() {
    }

    /** The mapping of {@code smaps} (such as {@code /proc/self/smaps}) that contains {@code address}. */
    public static Optional<Entry> find(Path smaps, long address) {
        return entries(smaps).stream()
                .filter(e -> Long.compareUnsigned(e.start(), address) <= 0 && Long.compareUnsigned(address, e.end()) < 0)
                .findFirst();
    }

    /** Every mapping in {@code smaps}, in address order. */
    public static List<Entry> entries(Path smaps) {
        String text = ProcFiles.read(smaps);
        List<Entry> entries = new java.util.ArrayList<>();
        String[] header = null;
        for (String line : text.split("\n")) {
            if (HEADER.matcher(line).lookingAt()) {
                header = line.trim().split("\\s+", 6);
            } else if (line.startsWith("VmFlags:") && header != null) {
                String[] range = header[0].split("-");
                entries.add(new Entry(Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16),
                        header[1], header.length > 5 ? header[5] : "",
                        List.of(line.substring("VmFlags:".length()).trim().split("\\s+"))));
                header = null;
            }
        }
        return entries;
    }
}
