// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.service.testing.CClient;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.TestJvm;
import dev.xpfo.vm.testing.Console;
import dev.xpfo.vm.testing.Guest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The QEMU preload library on its own, in the situations QEMU puts it in. */
class PreloadLibraryTest {

    @Test
    void aForkWhileGuestRamIsBeingGrantedDoesNotHangTheChild(@TempDir Path directory) throws Exception {
        Path program = CClient.program("fork_while_sizing");

        ProcessBuilder builder = new ProcessBuilder(program.toString(), directory.resolve("silent.sock").toString())
                .redirectErrorStream(true);
        builder.environment().put("LD_PRELOAD", Guest.preload().toString());
        Child.Result run = Child.run(builder, Duration.ofSeconds(30));
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("child finished");
    }

    /**
     * Issue 11: with --ram secretmem QEMU holds the guest RAM's secret memory file itself, and any
     * process of QEMU's user could take it with pidfd_getfd(2) and map it. The preload library makes
     * QEMU non-dumpable, so only CAP_SYS_PTRACE can. QEMU and the thief both run as uid 65534.
     */
    @Test
    void aProcessOfQemusOwnUserCannotTakeTheGuestRamDescriptor(@TempDir Path directory) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.xpfo.testing.TestJvm.isRoot(), "needs root to run both as uid 65534");
        Path thief = CClient.program("take_guest_ram");
        directory.toFile().setExecutable(true, false);
        Path control = Files.createDirectory(directory.resolve("control"));
        Files.setAttribute(control, "unix:uid", 65534);
        Path qmp = control.resolve("qmp.sock");
        java.nio.channels.ServerSocketChannel listener = VmLauncher.listen(qmp);
        Files.setAttribute(qmp, "unix:uid", 65534);
        String nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
        // 4 MiB: within the 8 MiB memlock limit an ordinary user has here.
        ProcessBuilder builder = new ProcessBuilder("sh", "-c", "exec " + nobody
                + "qemu-system-x86_64 -S -display none -nodefaults -no-user-config -accel tcg -m 4M "
                + "-object memory-backend-memfd,id=ram,size=4M,share=on,seal=off -machine memory-backend=ram "
                + "-qmp unix:" + qmp).redirectErrorStream(true);
        builder.environment().put("LD_PRELOAD", Guest.preload().toString());
        builder.environment().put("XPFO_VM_RAM", "secretmem");
        Process qemu = builder.start();
        Console console = new Console(qemu.getInputStream());
        try {
            console.await(java.util.regex.Pattern.compile("guest RAM 4 MiB: secret memory created by QEMU's process"),
                    java.time.Duration.ofSeconds(60));
            // QEMU greets on QMP from its main loop: its guest RAM is mapped and its descriptor held by then.
            try (QmpConnection connection = VmLauncher.accept(qemu, listener)) {
                connection.execute("query-status");
            }
            int fd = guestRamDescriptor(qemu.pid());

            CClient.Result attack = CClient.run(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    thief.toString(), Long.toString(qemu.pid()), Integer.toString(fd)), 30);
            assertThat(attack.output()).as("the same user's pidfd_getfd on QEMU's guest RAM file").contains("refused: EPERM");
            assertThat(attack.exitCode()).isEqualTo(1);
        } finally {
            qemu.destroyForcibly();
            qemu.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** The descriptor QEMU holds its secret memory guest RAM file on. */
    private static int guestRamDescriptor(long pid) throws Exception {
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("/secretmem");
                } catch (java.io.IOException e) {
                    return false;
                }
            }).mapToInt(fd -> Integer.parseInt(fd.getFileName().toString())).findFirst()
                    .orElseThrow(() -> new AssertionError("QEMU holds no secret memory file"));
        }
    }
}
