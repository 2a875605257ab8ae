// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * QEMU's own account of its RAM, asked over QMP while the guest is held: the memory backends
 * ({@code query-memdev}), the machine's RAM ({@code query-memory-size-summary}), every RAM block
 * ({@code info ramblock}: name and size) and, for each block mapped into the guest, where it lives
 * in QEMU's address space. QEMU 7.2's {@code info ramblock} has no host address, so that comes from
 * the guest-physical ranges of the flat memory map ({@code info mtree -f}: which block, at which
 * offset in it) and {@code gpa2hva} on one address of the block: its host address minus that offset.
 *
 * @param blocks           every RAM block, in QEMU's order
 * @param memoryBackends   each memory backend's id and size
 * @param machineRamBytes  the machine's RAM: base plus hot-plugged memory
 */
record QemuRamView(List<Block> blocks, Map<String, Long> memoryBackends, long machineRamBytes) {
    private static final Pattern RAMBLOCK = Pattern.compile(
            "\\s*(\\S.*?)\\s+\\d+(?:\\.\\d+)? [KMGTPE]?i?B\\s+0x(\\p{XDigit}+)\\s+0x(\\p{XDigit}+)\\s+0x(\\p{XDigit}+)\\s*");
    private static final Pattern FLAT_RANGE = Pattern.compile(
            "\\s+(\\p{XDigit}+)-(\\p{XDigit}+) \\(prio -?\\d+, [a-z-]+\\): (\\S+)(?: @(\\p{XDigit}+))?.*");
    private static final Pattern HOST_ADDRESS = Pattern.compile("Host virtual address for 0x(\\p{XDigit}+) \\((.*)\\) is 0x(\\p{XDigit}+)\\s*");

    /**
     * One RAM block.
     *
     * @param name      its name ({@code pc.ram}, a memory backend's id, {@code 0000:00:02.0/vga.vram})
     * @param bytes     its used size
     * @param host      the host address of its first byte, if it is mapped into the guest
     */
    record Block(String name, long bytes, OptionalLong host) {
    }

    /** Asks QEMU; anything in its answers this cannot read is an error, never skipped. */
    static QemuRamView ask(QmpConnection qmp) throws IOException {
        Map<String, Long> backends = new LinkedHashMap<>();
        for (JsonNode memdev : qmp.call("query-memdev", null)) {
            backends.put(memdev.get("id").asText(), memdev.get("size").asLong());
        }
        JsonNode summary = qmp.call("query-memory-size-summary", null);
        long machine = summary.get("base-memory").asLong() + summary.path("plugged-memory").asLong(0);
        Map<String, long[]> guestRanges = flatRanges(qmp.human("info mtree -f"));
        List<Block> blocks = new ArrayList<>();
        Map<String, Long> ramBlocks = ramBlocks(qmp.human("info ramblock"));
        for (Map.Entry<String, Long> block : ramBlocks.entrySet()) {
            long[] range = guestRanges.get(block.getKey());
            String region = regionName(block.getKey());
            // A device's block (0000:00:02.0/vga.vram) is seen by its region's name, if no other device's is.
            if (range == null && ramBlocks.keySet().stream().filter(b -> regionName(b).equals(region)).count() == 1) {
                range = guestRanges.get(region);
            }
            OptionalLong host = OptionalLong.empty();
            if (range != null) {
                String answer = qmp.human("gpa2hva 0x" + Long.toHexString(range[0]));
                Matcher matcher = HOST_ADDRESS.matcher(answer.strip());
                if (!matcher.matches()) {
                    throw new IOException("unexpected answer to gpa2hva: " + answer.strip());
                }
                String regionName = matcher.group(2);
                if (block.getKey().equals(regionName) || block.getKey().endsWith("/" + regionName)) {
                    host = OptionalLong.of(Long.parseUnsignedLong(matcher.group(3), 16) - range[1]);
                }
            }
            blocks.add(new Block(block.getKey(), block.getValue(), host));
        }
        return new QemuRamView(List.copyOf(blocks), Map.copyOf(backends), machine);
    }

    /** {@code info ramblock}: each block's name and used size. */
    static Map<String, Long> ramBlocks(String text) throws IOException {
        Map<String, Long> blocks = new LinkedHashMap<>();
        for (String line : text.split("\r?\n")) {
            if (line.isBlank() || line.strip().startsWith("Block Name")) {
                continue;
            }
            Matcher matcher = RAMBLOCK.matcher(line);
            if (!matcher.matches()) {
                throw new IOException("unexpected line in QEMU's info ramblock: " + line);
            }
            blocks.put(matcher.group(1), Long.parseUnsignedLong(matcher.group(3), 16));
        }
        return blocks;
    }

    /**
     * {@code info mtree -f}, the flat view of the guest's memory address space: for each region's name,
     * the first guest-physical address it is seen at and the offset in the region there.
     */
    static Map<String, long[]> flatRanges(String text) {
        Map<String, long[]> ranges = new HashMap<>();
        boolean memory = false;
        for (String line : text.split("\r?\n")) {
            if (line.startsWith("FlatView")) {
                memory = false;
            } else if (line.strip().startsWith("AS \"memory\"")) {
                memory = true;
            } else if (memory) {
                Matcher matcher = FLAT_RANGE.matcher(line);
                if (matcher.matches()) {
                    long offset = matcher.group(4) == null ? 0 : Long.parseUnsignedLong(matcher.group(4), 16);
                    ranges.putIfAbsent(matcher.group(3), new long[] {Long.parseUnsignedLong(matcher.group(1), 16), offset});
                }
            }
        }
        return ranges;
    }

    private static String regionName(String block) {
        return block.substring(block.lastIndexOf('/') + 1);
    }

    /** The block named {@code name}. */
    Optional<Block> block(String name) {
        return blocks.stream().filter(b -> b.name().equals(name)).findFirst();
    }
}
