// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm.testing;

import dev.xpfo.audit.MappingKind;
import dev.xpfo.audit.ProcessMemory;
import dev.xpfo.host.MapsEntry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * What the host can read of a VMM's memory through {@code /proc/PID/mem}, the interface a debugger,
 * a core dumper or an attacker with root uses: every readable mapping, searched for the guest's marker.
 *
 * @param secretRegions     secret memory mappings (guest RAM from xpfo)
 * @param secretReadsFailed of those, how many refused a read
 * @param bytesRead         bytes read from every mapping that allowed it
 * @param foundIn           the mappings the marker was found in
 */
public record HostView(int secretRegions, int secretReadsFailed, long bytesRead, List<String> foundIn) {
    private static final int BLOCK = 4 << 20;

    /** The bytes the guest writes across its RAM for a console marker: each byte XOR 0xA5 (see scripts/guest/fill.c). */
    public static byte[] pattern(String markerHex) {
        byte[] marker = HexFormat.of().parseHex(markerHex);
        for (int i = 0; i < marker.length; i++) {
            marker[i] ^= (byte) 0xA5;
        }
        return marker;
    }

    public static HostView of(long pid, byte[] pattern) throws Exception {
        ProcessMemory process = ProcessMemory.read(pid).orElseThrow(() -> new AssertionError("process " + pid + " is gone"));
        int secret = 0;
        int refused = 0;
        long read = 0;
        List<String> found = new ArrayList<>();
        ByteBuffer buffer = ByteBuffer.allocate(BLOCK + pattern.length);
        try (FileChannel mem = FileChannel.open(Path.of("/proc", Long.toString(pid), "mem"), StandardOpenOption.READ)) {
            for (MapsEntry region : process.regions()) {
                boolean isSecret = process.kind(region) == MappingKind.SECRET_MEMORY;
                secret += isSecret ? 1 : 0;
                if (!region.permissions().startsWith("r") && !isSecret) {
                    continue;
                }
                for (long at = region.start(); at < region.end(); at += BLOCK) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), region.end() - at));
                    int n;
                    try {
                        n = mem.read(buffer, at);
                    } catch (IOException refusedRead) {
                        refused += isSecret ? 1 : 0;
                        break; // [vvar] and the like refuse too; guest RAM from xpfo must
                    }
                    read += Math.max(0, Math.min(n, BLOCK));
                    if (n > 0 && contains(buffer.array(), n, pattern)) {
                        found.add(region.path().isEmpty() ? "anonymous at 0x" + Long.toHexString(region.start()) : region.path());
                        break;
                    }
                }
            }
        }
        return new HostView(secret, refused, read, found);
    }

    private static boolean contains(byte[] data, int length, byte[] pattern) {
        byte first = pattern[0];
        for (int i = 0; i + pattern.length <= length; i++) {
            if (data[i] == first && java.util.Arrays.equals(data, i, i + pattern.length, pattern, 0, pattern.length)) {
                return true;
            }
        }
        return false;
    }
}
