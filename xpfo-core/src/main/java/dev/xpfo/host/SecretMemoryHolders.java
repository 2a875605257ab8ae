// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which secret memory files some process on this host still holds, open or mapped: the only two ways
 * a process holds one (it cannot be reopened by path). Read from {@code /proc/PID/fd} and
 * {@code /proc/PID/maps} by {@link ProcessScanner}, which need the same user or {@code CAP_SYS_PTRACE};
 * the owners of processes that could not be inspected are reported, so a caller can assume the worst
 * of them. Descriptors in flight in a Unix socket's queue or registered with io_uring belong to no
 * process's table and are not seen: a scan can show that a file is held, never that it is not.
 *
 * <p>A secret memory file is recognised exactly, by name and device ({@link SecretMemoryFiles}): a file
 * of another file system named like it (a tmpfs file {@code secretmem-1} whose inode number happens
 * to match) is not one.
 *
 * @param inodes         inode numbers of the secret memory files found
 * @param unreadableUids owners of the processes that could not be inspected
 */
public record SecretMemoryHolders(Set<Long> inodes, Set<Integer> unreadableUids) {
    /**
     * The device number ({@code st_dev}) of secret memory files on this kernel: {@link SecretMemoryFiles#device()}.
     *
     * @throws dev.xpfo.memory.SecretMemoryUnavailableException if this kernel cannot make secret memory
     */
    public static long device() {
        return SecretMemoryFiles.device().value();
    }

    /** Reads every process now. Costs a directory listing and a maps read per process. */
    public static SecretMemoryHolders scan() {
        return scan(device());
    }

    /** Reads every process now, counting only secret memory files of device {@code device} ({@link #device()}). */
    public static SecretMemoryHolders scan(long device) {
        DeviceNumber secret = DeviceNumber.of(device);
        Set<Long> inodes = new HashSet<>();
        Set<Integer> unreadable = new HashSet<>();
        for (long pid : ProcessScanner.pids()) {
            ProcessScanner.Result<List<Long>> held = ProcessScanner.read(pid, process -> {
                List<Long> found = new ArrayList<>(mapped(process.maps(), secret));
                process.secretMemoryFiles(secret).forEach(file -> found.add(file.inode()));
                return found;
            });
            switch (held) {
                case ProcessScanner.Result.Read<List<Long>> read -> inodes.addAll(read.value());
                case ProcessScanner.Result.Exited<List<Long>> exited -> {
                    // holds nothing any more
                }
                case ProcessScanner.Result.Unreadable<List<Long>> denied -> {
                    try {
                        unreadable.add(new ProcessDirectory(pid).ownerUid());
                    } catch (IOException e) {
                        // exited meanwhile
                    }
                }
            }
        }
        return new SecretMemoryHolders(Set.copyOf(inodes), Set.copyOf(unreadable));
    }

    /**
     * The same, not counting {@code uid}'s own processes among those that could not be inspected: a
     * service's own uid can read its processes but those that made themselves non-dumpable (agents
     * such as gpg-agent do), and a user needs no quota against itself on its own service.
     */
    public SecretMemoryHolders ignoringUid(int uid) {
        Set<Integer> others = new HashSet<>(unreadableUids);
        others.remove(uid);
        return new SecretMemoryHolders(inodes, Set.copyOf(others));
    }

    /** The inodes of the secret memory files of device {@code device} among {@code mappings}. */
    static Set<Long> mapped(List<MapsEntry> mappings, DeviceNumber device) {
        Set<Long> inodes = new HashSet<>();
        for (MapsEntry mapping : mappings) {
            if (SecretMemoryFiles.isSecretMemory(mapping, device)) {
                inodes.add(mapping.inode());
            }
        }
        return inodes;
    }
}
