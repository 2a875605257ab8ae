package dev.xpfo.vm;

import dev.xpfo.host.KvmSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The launcher never lets a VM run on ordinary memory: it checks QEMU's mappings and stops it otherwise. */
class VmLauncherTest {

    /** A stand-in for QEMU: a script with QEMU's name that does what {@code body} says. */
    private static Path fakeQemu(Path directory, String body) throws IOException {
        Path script = directory.resolve("qemu-system-x86_64");
        Files.writeString(script, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private static Preflight plan(Path qemu) {
        return QemuPreflight.check(QemuCommandLine.parse(List.of(qemu.toString(), "-m", "64M")),
                () -> new KvmSupport(false, false, -1, "none"));
    }

    private static VmLauncher launcher(StringWriter out, Duration timeout) throws Exception {
        return new VmLauncher(new VmLauncher.Settings(Guest.preload(), RamSource.SECRETMEM, null, false, timeout),
                new PrintWriter(out));
    }

    @Test
    void aQemuWhoseGuestRamNeverBecomesSecretMemoryIsStopped(@TempDir Path directory) throws Exception {
        Path pidFile = directory.resolve("pid");
        Path qemu = fakeQemu(directory, "echo $$ > " + pidFile + "\nexec sleep 120");
        StringWriter out = new StringWriter();

        int exit = launcher(out, Duration.ofSeconds(2)).run(plan(qemu));

        assertThat(exit).isEqualTo(VmLauncher.NOT_PROTECTED);
        assertThat(out.toString()).contains("is not all secret memory after 2 s (0 B of 64 MiB direct-map-free)")
                .contains("stopping it rather than run the guest on ordinary memory");
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("QEMU left running").isFalse();
    }

    @Test
    void aGuestWhoseRamStaysOrdinaryNeverRunsAnInstruction(@TempDir Path directory) throws Exception {
        // A preload library that replaces nothing: QEMU keeps its ordinary memfd RAM.
        Path inert = directory.resolve("libinert.so");
        Path source = Files.writeString(directory.resolve("inert.c"), "int xpfo_inert;\n");
        Guest.run(List.of("cc", "-shared", "-fPIC", "-o", inert.toString(), source.toString()), 60);
        Guest guest = Guest.prepared();
        Preflight plan = QemuPreflight.check(QemuCommandLine.parse(guest.qemu("-m", Guest.RAM_MIB + "M")),
                () -> new KvmSupport(false, false, -1, "none"));
        Path console = directory.resolve("console.log");
        StringWriter out = new StringWriter();
        VmLauncher launcher = new VmLauncher(new VmLauncher.Settings(inert, RamSource.SECRETMEM, null, false,
                Duration.ofSeconds(12)), new PrintWriter(out));

        assertThatThrownBy(() -> launcher.launch(plan, ProcessBuilder.Redirect.to(console.toFile())))
                .isInstanceOf(GuestRamNotProtectedException.class)
                .satisfies(e -> assertThat(((GuestRamNotProtectedException) e).exitCode()).isEqualTo(VmLauncher.NOT_PROTECTED));
        assertThat(out.toString()).contains("(0 B of 192 MiB direct-map-free); stopping it");
        // 12 s is twice what this guest needs to boot: held with -S, it never started.
        assertThat(Files.readString(console)).doesNotContain("xpfo-guest");
    }

    @Test
    void aQemuThatFailsBeforeMappingItsRamPassesItsExitCodeOn(@TempDir Path directory) throws Exception {
        StringWriter out = new StringWriter();
        int exit = launcher(out, Duration.ofSeconds(30)).run(plan(fakeQemu(directory, "exit 7")));
        assertThat(exit).isEqualTo(7);
        assertThat(out.toString()).contains("QEMU exited with 7 before its guest RAM was in place");
    }

    @Test
    void thePreloadLibraryIsToldWhereGuestRamComesFromAndKeepsOtherPreloads() {
        VmLauncher launcher = new VmLauncher(new VmLauncher.Settings(Path.of("/lib/libxpfo-vm.so"), RamSource.SERVICE,
                Path.of("/run/xpfo/xpfo.sock"), true, Duration.ofSeconds(1)), new PrintWriter(new StringWriter()));
        Map<String, String> environment = new HashMap<>(Map.of("LD_PRELOAD", "/lib/other.so"));
        launcher.environment(environment);
        assertThat(environment).containsEntry("LD_PRELOAD", "/lib/libxpfo-vm.so:/lib/other.so")
                .containsEntry("XPFO_VM_RAM", "service").containsEntry("XPFO_SOCKET", "/run/xpfo/xpfo.sock")
                .containsEntry("XPFO_VM_WARM_ONLY", "1");
    }
}
