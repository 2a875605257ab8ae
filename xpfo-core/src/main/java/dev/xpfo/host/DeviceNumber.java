// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

/**
 * A device number ({@code dev_t}) split as the kernel prints it in {@code /proc/PID/maps}: the device
 * of the file system a file lives on. Files of the kernel's internal mounts (secret memory, memfd,
 * sockets) have major 0 and a minor the kernel hands out at boot.
 *
 * @param major the major number
 * @param minor the minor number
 */
public record DeviceNumber(long major, long minor) {
    public DeviceNumber {
        if (major < 0 || minor < 0) {
            throw new IllegalArgumentException("a device number is not negative: " + major + ":" + minor);
        }
    }

    /** Splits a {@code dev_t} ({@code st_dev} of {@code stat(2)}) as glibc's {@code gnu_dev_major}/{@code gnu_dev_minor} do. */
    public static DeviceNumber of(long device) {
        return new DeviceNumber(((device >>> 8) & 0xfff) | ((device >>> 32) & 0xfffff000L),
                (device & 0xff) | ((device >>> 12) & 0xffffff00L));
    }

    /** The {@code dev_t} of this major and minor, as glibc's {@code gnu_dev_makedev} makes it: the inverse of {@link #of}. */
    public long value() {
        return ((major & 0xfff) << 8) | ((major & ~0xfffL) << 32) | (minor & 0xff) | ((minor & ~0xffL) << 12);
    }

    /**
     * Reads {@code MAJOR:MINOR} in hexadecimal, as maps prints it ({@code 00:0d}; the kernel pads each
     * to two digits, so {@code 0:d} is the same device).
     *
     * @throws IllegalArgumentException if {@code text} is not two hexadecimal numbers around a colon
     */
    public static DeviceNumber parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("not a device number MAJOR:MINOR: " + text);
        }
        try {
            return new DeviceNumber(Long.parseLong(text, 0, colon, 16), Long.parseLong(text, colon + 1, text.length(), 16));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a device number MAJOR:MINOR: " + text, e);
        }
    }

    /** As maps prints it: {@code 00:0d}. */
    @Override
    public String toString() {
        return String.format("%02x:%02x", major, minor);
    }
}
