// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.OpenFile;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.host.ProcessScanner;
import dev.xpfo.host.SecretMemoryFiles;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A process's memory as {@code /proc} shows it ({@link ProcessScanner}): its mappings and the secret
 * memory files it holds (mapped or only open). Reading another user's process needs root or
 * CAP_SYS_PTRACE.
 *
 * @param pid          the process
 * @param uid          its real owner ({@code Uid:} in {@code /proc/PID/status})
 * @param executable   the file name of its executable ({@code qemu-system-x86_64})
 * @param commandLine  its arguments
 * @param regions      its mappings, in address order
 * @param secretFiles  each secret memory file it holds, inode to bytes (a file's size if open, else
 *                     the most of it mapped)
 * @param secretDevice the device of this kernel's secret memory files; empty if it has none
 */
public record ProcessMemory(long pid, int uid, String executable, List<String> commandLine, List<MapsEntry> regions,
                            Map<Long, Long> secretFiles, Optional<DeviceNumber> secretDevice) {

    /** Why a process could not be read. */
    public static final class UnreadableException extends Exception {
        UnreadableException(String message) {
            super(message);
        }
    }

    /**
     * Reads process {@code pid}.
     *
     * @return empty if it has exited
     * @throws UnreadableException if this process may not inspect it
     */
    public static Optional<ProcessMemory> read(long pid) throws UnreadableException {
        Optional<DeviceNumber> device = SecretMemoryFiles.deviceIfAvailable();
        return switch (ProcessScanner.read(pid, process -> read(process, device))) {
            case ProcessScanner.Result.Read<ProcessMemory> read -> Optional.of(read.value());
            case ProcessScanner.Result.Exited<ProcessMemory> exited -> Optional.empty();
            case ProcessScanner.Result.Unreadable<ProcessMemory> unreadable -> throw new UnreadableException(unreadable.reason());
        };
    }

    private static ProcessMemory read(ProcessDirectory process, Optional<DeviceNumber> device) throws IOException {
        int uid = process.realUid();
        List<String> arguments = process.commandLine();
        List<MapsEntry> regions = process.maps();
        List<OpenFile> open = device.isPresent() ? process.secretMemoryFiles(device.get()) : List.of();
        return of(process.pid(), uid, process.executable(), arguments, regions, open, device);
    }

    /**
     * A process with mappings {@code regions} holding open {@code openSecretFiles} (already found to
     * be secret memory of {@code secretDevice}).
     */
    static ProcessMemory of(long pid, int uid, String executable, List<String> commandLine, List<MapsEntry> regions,
                            List<OpenFile> openSecretFiles, Optional<DeviceNumber> secretDevice) {
        Map<Long, Long> secret = new HashMap<>();
        for (MapsEntry region : regions) {
            if (MappingKind.of(region, secretDevice) == MappingKind.SECRET_MEMORY) {
                secret.merge(region.inode(), region.bytes(), Math::max);
            }
        }
        openSecretFiles.forEach(file -> secret.merge(file.inode(), file.size(), Math::max));
        return new ProcessMemory(pid, uid, executable, List.copyOf(commandLine), List.copyOf(regions), Map.copyOf(secret),
                secretDevice);
    }

    /** What backs {@code region}, one of this process's mappings. */
    public MappingKind kind(MapsEntry region) {
        return MappingKind.of(region, secretDevice);
    }

    /** Bytes of secret memory mapped into this process. */
    public long secretMappedBytes() {
        return regions.stream().filter(r -> kind(r) == MappingKind.SECRET_MEMORY).mapToLong(MapsEntry::bytes).sum();
    }

    /** Bytes of secret memory this process holds, each file once, mapped or not. */
    public long secretHeldBytes() {
        return secretFiles.values().stream().mapToLong(Long::longValue).sum();
    }
}
