// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import java.util.Locale;

/** Byte counts as people write them ({@code 256M}, {@code 4KiB}) and as xpfo prints them. */
public final class Bytes {
    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;

    private Bytes() {
    }

    /**
     * Parses a size such as {@code 4096}, {@code 64K}, {@code 256M}, {@code 2GiB} (binary units,
     * case-insensitive, optional {@code B}/{@code iB}).
     *
     * @throws InvalidSizeException if the text is not a size or overflows a long
     */
    public static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> unit = KIB;
                case 'M' -> unit = MIB;
                case 'G' -> unit = GIB;
                case 'T' -> unit = 1024 * GIB;
                default -> unit = 1;
            }
            if (unit != 1) {
                t = t.substring(0, t.length() - 1);
            }
        }
        try {
            return Math.multiplyExact(Long.parseLong(t.trim()), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new InvalidSizeException("not a size: '" + text + "' (examples: 4096, 64K, 256M, 2G)");
        }
    }

    /** A short human form: {@code 256 MiB}, {@code 4 KiB}, {@code 1.5 GiB}, {@code 17 B}. */
    public static String format(long bytes) {
        if (bytes < KIB) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int i = -1;
        while (value >= 1024 && i < units.length - 1) {
            value /= 1024;
            i++;
        }
        return value == Math.rint(value)
                ? String.format(Locale.ROOT, "%d %s", (long) value, units[i])
                : String.format(Locale.ROOT, "%.1f %s", value, units[i]);
    }

    /** A memlock-style limit: {@code unlimited} for -1, else {@link #format} and the exact byte count. */
    public static String describeLimit(long bytes) {
        return bytes < 0 ? "unlimited" : format(bytes) + " (" + bytes + " bytes)";
    }

    /** {@code bytes} rounded up to a multiple of {@code unit} (a power of two). */
    public static long roundUp(long bytes, long unit) {
        return Math.addExact(bytes, unit - 1) & -unit;
    }
}
