// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm.testing;


import dev.xpfo.service.testing.CClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The test guest: Debian's kernel and busybox with a /fill program that writes a random marker
 * across guest RAM (scripts/guest), and the preload library, each built once per test run.
 */
public final class Guest {
    /** Small enough to boot fast under TCG, large enough that most of it is the marker. */
    public static final long RAM_MIB = 192;

    private static Guest prepared;
    private static Path preload;

    public final Path kernel;
    public final Path initramfs;

    private Guest(Path directory) {
        this.kernel = directory.resolve("vmlinuz");
        this.initramfs = directory.resolve("initramfs.cpio");
    }

    public static Path repository() {
        return CClient.sources().getParent().getParent();
    }

    /** Installs QEMU if missing (as root), fetches the kernel and busybox, builds the initramfs. */
    public static synchronized Guest prepared() throws IOException, InterruptedException {
        if (prepared == null) {
            Path directory = Path.of("target", "guest").toAbsolutePath();
            run(List.of("bash", repository().resolve("scripts/guest/build").toString(), directory.toString()), 600);
            prepared = new Guest(directory);
        }
        return prepared;
    }

    /** The preload library, compiled from clients/qemu with warnings as errors. */
    public static synchronized Path preload() throws IOException, InterruptedException {
        if (preload == null) {
            Path directory = Files.createDirectories(Path.of("target", "preload").toAbsolutePath());
            Path library = directory.resolve("libxpfo-vm.so");
            run(List.of("cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", library.toString(),
                    repository().resolve("clients/qemu/xpfo_vm_preload.c").toString(),
                    repository().resolve("clients/c/xpfo_client.c").toString(), "-ldl", "-lpthread"), 120);
            preload = library;
        }
        return preload;
    }

    /**
     * A QEMU command line booting this guest with its console on stdout; {@code ram} is added as
     * given, so a test can pass plain {@code -m} or a backend of its own.
     */
    public List<String> qemu(String... ram) {
        List<String> words = new ArrayList<>(List.of("qemu-system-x86_64", "-smp", "1"));
        words.addAll(List.of(ram));
        words.addAll(List.of("-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyS0 quiet panic=-1 init_on_alloc=0",
                "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"));
        return words;
    }

    /** Runs {@code command}, failing the test with its output unless it succeeds. */
    public static void run(List<String> command, long seconds) throws IOException, InterruptedException {
        CClient.Result result = CClient.run(command, seconds);
        if (result.exitCode() != 0) {
            throw new AssertionError("failed: " + command + "\n" + result.output());
        }
    }
}
