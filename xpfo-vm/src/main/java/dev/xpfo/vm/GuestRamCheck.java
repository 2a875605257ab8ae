// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.SecretMemoryFiles;
import dev.xpfo.memory.Bytes;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Matches QEMU's account of its RAM ({@link QemuRamView}) against its mappings in {@code /proc/PID/maps}:
 * the guest may run only if every guest RAM block lies entirely in secret memory.
 *
 * <p>Guest RAM is every RAM block that is a memory backend ({@code query-memdev}): the machine's RAM
 * (QEMU 7.2 puts it on a backend, {@code pc.ram} when the command line names none), every NUMA
 * node's and every other backend's; together they must cover the machine's RAM QEMU reports. The
 * other blocks belong to devices and firmware (option ROMs, {@code pc.bios}, ACPI tables, video RAM):
 * they are not guest RAM and stay ordinary memory, and are listed as such.
 *
 * @param lines         per block, what it is and where it lives, to be shown to the user
 * @param problems      why the guest must not run; empty if every guest RAM block is secret memory
 * @param guestRamBytes the guest RAM QEMU reports
 */
record GuestRamCheck(List<String> lines, List<String> problems, long guestRamBytes) {

    boolean protectedAll() {
        return problems.isEmpty();
    }

    /**
     * @param secretDevice the device number of the kernel's secret memory files ({@link SecretMemoryFiles#device()})
     */
    static GuestRamCheck of(QemuRamView view, List<MapsEntry> regions, DeviceNumber secretDevice) {
        List<String> lines = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        long guestRam = 0;
        for (Map.Entry<String, Long> backend : view.memoryBackends().entrySet()) {
            if (view.block(backend.getKey()).isEmpty()) {
                problems.add("memory backend '" + backend.getKey() + "' has no RAM block QEMU lists, so where it lives "
                        + "cannot be confirmed");
            }
        }
        for (QemuRamView.Block block : view.blocks()) {
            Long backendBytes = view.memoryBackends().get(block.name());
            boolean guest = backendBytes != null;
            String what = (guest ? "guest RAM block '" : "RAM block '") + block.name() + "' (" + Bytes.format(block.bytes()) + ")";
            if (!guest) {
                lines.add(what + ": not guest RAM (device or firmware memory), ordinary memory"
                        + block.host().stream().mapToObj(h -> " at " + span(h, block.bytes())).findFirst()
                        .orElse(", not mapped into the guest now"));
                continue;
            }
            guestRam += block.bytes();
            if (backendBytes != block.bytes()) {
                problems.add(what + ": QEMU reports its memory backend as " + Bytes.format(backendBytes));
            }
            if (block.host().isEmpty()) {
                problems.add(what + ": not mapped into the guest, so where it lives in QEMU cannot be confirmed");
                lines.add(what + ": location unknown");
                continue;
            }
            long start = block.host().getAsLong();
            long end = start + block.bytes();
            Coverage coverage = coverage(regions, start, end, secretDevice);
            if (coverage.secretBytes == block.bytes()) {
                lines.add(what + " at " + span(start, block.bytes()) + ": secret memory (" + SecretMemoryFiles.NAME
                        + ", device " + secretDevice + ", " + coverage.secretMappings + " mapping"
                        + (coverage.secretMappings == 1 ? "" : "s") + ")");
            } else {
                String other = coverage.others.isEmpty() ? "nothing mapped" : String.join(", ", coverage.others);
                lines.add(what + " at " + span(start, block.bytes()) + ": " + Bytes.format(block.bytes() - coverage.secretBytes)
                        + " NOT secret memory (" + other + ")");
                problems.add(what + ": " + Bytes.format(block.bytes() - coverage.secretBytes) + " of it is ordinary memory ("
                        + other + ")");
            }
        }
        if (guestRam == 0) {
            problems.add("QEMU reports no guest RAM on a memory backend");
        } else if (guestRam < view.machineRamBytes()) {
            problems.add("QEMU reports " + Bytes.format(view.machineRamBytes()) + " of machine RAM but only "
                    + Bytes.format(guestRam) + " on memory backends: the rest is not in a block checked here");
        }
        return new GuestRamCheck(List.copyOf(lines), List.copyOf(problems), guestRam);
    }

    private static final class Coverage {
        long secretBytes;
        int secretMappings;
        final Set<String> others = new LinkedHashSet<>();
    }

    /** How much of [start, end) secret memory mappings cover, and what else is there. */
    private static Coverage coverage(List<MapsEntry> regions, long start, long end, DeviceNumber secretDevice) {
        Coverage coverage = new Coverage();
        for (MapsEntry region : regions) {
            long from = Math.max(start, region.start());
            long to = Math.min(end, region.end());
            if (from >= to) {
                continue;
            }
            if (SecretMemoryFiles.isSecretMemory(region, secretDevice)) {
                coverage.secretBytes += to - from;
                coverage.secretMappings++;
            } else {
                coverage.others.add(region.path().isEmpty() ? "anonymous memory"
                        : region.path() + (SecretMemoryFiles.isNamedLikeSecretMemory(region.path()) ? " on device "
                        + region.device() + ", not the secret memory device " + secretDevice : ""));
            }
        }
        return coverage;
    }

    private static String span(long start, long bytes) {
        return "0x" + Long.toHexString(start) + "-0x" + Long.toHexString(start + bytes);
    }
}
