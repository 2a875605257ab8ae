// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.host.KvmSupport;
import dev.xpfo.vm.testing.Guest;
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
import java.util.regex.Pattern;

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
        assertThat(out.toString()).contains("QEMU did not have its guest RAM in place after 2 s; stopped it before the "
                + "guest's first instruction");
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
                Duration.ofSeconds(60)), new PrintWriter(out));

        assertThatThrownBy(() -> launcher.launch(plan, ProcessBuilder.Redirect.to(console.toFile())))
                .isInstanceOf(GuestRamNotProtectedException.class)
                .satisfies(e -> assertThat(((GuestRamNotProtectedException) e).exitCode()).isEqualTo(VmLauncher.NOT_PROTECTED));
        assertThat(out.toString()).containsPattern("guest RAM block 'xpfo-ram' \\(192 MiB\\) at 0x\\p{XDigit}+-0x\\p{XDigit}+: "
                + "192 MiB NOT secret memory \\(/memfd:memory-backend-memfd \\(deleted\\)\\)")
                .contains("Stopping QEMU before the guest's first instruction");
        assertThat(Files.readString(console)).doesNotContain("xpfo-guest");
    }

    /**
     * Issue 11: command lines whose guest RAM the command-line check could not see (as --dry-run
     * accepted them before) are handed to the launcher as a passed plan: QEMU's own account of its RAM
     * blocks stops them before the guest's first instruction, with the real preload library in place.
     */
    @Test
    void guestRamTheCommandLineCheckMissedIsFoundFromQemusOwnAccountAndNeverRuns(@TempDir Path directory) throws Exception {
        Guest guest = Guest.prepared();
        Path file = directory.resolve("ram.img");
        for (List<String> hidden : List.of(
                List.of("-m", Guest.RAM_MIB + "M", "-machine", "{\"memory-backend\":\"none,type=pc,x-oem-id=\"}"),
                List.of("-m", Guest.RAM_MIB + "M", "-object", " {\"k\":\"v,qom-type=memory-backend-file,id=r0,size="
                        + Guest.RAM_MIB + "M,share=on,mem-path=" + file + "\"}", "-machine", "memory-backend=r0"))) {
            List<String> words = new java.util.ArrayList<>(guest.qemu(hidden.toArray(String[]::new)));
            words.addAll(List.of("-accel", "tcg"));
            Preflight passed = new Preflight(QemuCommandLine.parse(words), List.of(), List.of(), List.of());
            Path console = directory.resolve("console.log");
            StringWriter out = new StringWriter();
            VmLauncher launcher = new VmLauncher(new VmLauncher.Settings(Guest.preload(), RamSource.SECRETMEM, null, false,
                    Duration.ofSeconds(60)), new PrintWriter(out));

            assertThatThrownBy(() -> launcher.launch(passed, ProcessBuilder.Redirect.to(console.toFile())))
                    .as("%s\n%s", hidden, out).isInstanceOf(GuestRamNotProtectedException.class);
            // QEMU takes the rest of the element as mem-path: the file is named ram.img"}
            String block = hidden.contains("memory-backend=r0") ? "'r0' \\(192 MiB\\) at 0x\\p{XDigit}+-0x\\p{XDigit}+: 192 MiB NOT "
                    + "secret memory \\(" + Pattern.quote(file + "\"}") + "\\)"
                    : "'pc.ram' \\(192 MiB\\) at 0x\\p{XDigit}+-0x\\p{XDigit}+: 192 MiB NOT secret memory \\(anonymous memory\\)";
            assertThat(out.toString()).as("%s", hidden).containsPattern("guest RAM block " + block).contains("RAM block 'pc.bios' (256 KiB): not guest RAM (device or firmware memory), "
                    + "ordinary memory at 0x").contains("Stopping QEMU before the guest's first instruction")
                    .doesNotContain("all of it secret memory");
            assertThat(Files.readString(console)).doesNotContain("xpfo-guest");
        }
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
