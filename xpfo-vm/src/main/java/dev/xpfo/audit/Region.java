package dev.xpfo.audit;

/**
 * One line of {@code /proc/PID/maps}.
 *
 * @param start       first address
 * @param end         address past the last byte
 * @param permissions such as {@code rw-s}
 * @param inode       the file's inode, 0 for anonymous memory
 * @param name        the file or label, empty for anonymous memory
 * @param device      the file's device as the kernel prints it ({@code MAJOR:MINOR} in hex), {@code 00:00}
 *                    for anonymous memory
 */
public record Region(long start, long end, String permissions, long inode, String name, String device) {
    /** What the kernel names a secret memory mapping (its file is never linked anywhere). */
    public static final String SECRET_MEMORY_NAME = "/secretmem (deleted)";

    public Region(long start, long end, String permissions, long inode, String name) {
        this(start, end, permissions, inode, name, "00:00");
    }

    /**
     * True only for a mapping of a file on the kernel's secret memory mount, whose device number is
     * {@code secretDevice}: a file merely named like one (a tmpfs file called {@code secretmem}) is not.
     */
    public boolean isSecretMemory(String secretDevice) {
        return name.equals(SECRET_MEMORY_NAME) && device.equals(secretDevice);
    }

    /** What backs a region, as far as the direct map is concerned. */
    public enum Kind {
        /** A secret memory file: out of the direct map. */
        SECRET_MEMORY,
        /** A memfd ({@code /memfd:NAME}), as QEMU's memory-backend-memfd: ordinary pages. */
        MEMFD,
        /** Any other file mapped shared ({@code /dev/shm}, hugetlbfs, ...). */
        SHARED_FILE,
        /** Private anonymous memory (also named with {@code PR_SET_VMA_ANON_NAME}, or of huge pages). */
        ANONYMOUS,
        /** Code, libraries, stacks and other labels. */
        OTHER
    }

    public long bytes() {
        return end - start;
    }

    public Kind kind() {
        if (name.startsWith("/secretmem")) {
            return Kind.SECRET_MEMORY;
        }
        if (name.startsWith("/memfd:")) {
            return Kind.MEMFD;
        }
        if (name.isEmpty() || name.startsWith("[anon:") || name.startsWith("/anon_hugepage")) {
            return permissions.endsWith("s") ? Kind.SHARED_FILE : Kind.ANONYMOUS;
        }
        if (name.startsWith("/") && permissions.endsWith("s")) {
            return Kind.SHARED_FILE;
        }
        return Kind.OTHER;
    }

    /** Parses a maps line: {@code address perms offset dev inode [name]}. */
    public static Region parse(String line) {
        String[] fields = line.trim().split("\\s+", 6);
        String[] range = fields[0].split("-");
        return new Region(Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16), fields[1],
                Long.parseLong(fields[4]), fields.length > 5 ? fields[5] : "", fields[3]);
    }
}
