// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.linux.Errno;

/**
 * One try, from another process, to read a region.
 *
 * @param method      {@code proc_mem}, {@code process_vm_readv}, {@code ptrace_peekdata} or {@code scan}
 * @param target      {@code secret} (the direct-map-free region) or {@code control} (ordinary memory)
 * @param errno       what the kernel answered; 0 if the read went through
 * @param bytesRead   how many bytes the attempt obtained
 * @param markerFound whether the region's random marker was among them
 * @param detail      what happened, in words
 */
public record Attempt(String method, String target, int errno, long bytesRead, boolean markerFound, String detail) {

    /** True if the kernel refused the read (for a scan: the marker was not found anywhere). */
    public boolean refused() {
        return method.equals("scan") ? !markerFound : errno != 0 && bytesRead == 0 && !markerFound;
    }

    /** The errno's name, or {@code "-"} when there was none. */
    public String errnoName() {
        return errno == 0 ? "-" : Errno.name(errno);
    }

    static Attempt parse(String line) {
        String[] f = line.split("\t", 7);
        return new Attempt(f[1], f[2], Integer.parseInt(f[3]), Long.parseLong(f[4]), Boolean.parseBoolean(f[5]),
                f.length > 6 ? f[6] : "");
    }
}
