package dev.xpfo.vm;

import dev.xpfo.audit.ProcessMemory;
import dev.xpfo.memory.Bytes;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starts QEMU with the preload library and held before the guest's first instruction, confirms from
 * {@code /proc} that all its guest RAM is secret memory, and only then lets the guest run. If the
 * guest RAM is not all direct-map-free in time, QEMU is stopped without having run the guest.
 */
public final class VmLauncher {
    /**
     * How to start QEMU.
     *
     * @param preload    the preload library
     * @param source     where guest RAM comes from
     * @param socket     the service's socket (for {@link RamSource#SERVICE})
     * @param warmOnly   refuse guest RAM the service would have to populate while QEMU waits
     * @param mapTimeout how long QEMU may take to map its guest RAM
     */
    public record Settings(Path preload, RamSource source, Path socket, boolean warmOnly, Duration mapTimeout) {
    }

    /** QEMU was stopped because its guest RAM did not turn out direct-map-free. */
    public static final int NOT_PROTECTED = 2;

    private final Settings settings;
    private final PrintWriter out;

    public VmLauncher(Settings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    /** Starts QEMU (as this process's child, sharing its terminal) and returns once it has exited. */
    public int run(Preflight plan) throws IOException, InterruptedException {
        Process qemu;
        try {
            qemu = launch(plan, ProcessBuilder.Redirect.INHERIT);
        } catch (GuestRamNotProtectedException e) {
            return e.exitCode();
        }
        return ChildProcess.awaitStoppingOnExit(qemu);
    }

    /**
     * Starts QEMU held before its first instruction ({@code -S}), confirms from {@code /proc} that secret
     * memory covers all its guest RAM, then lets the guest run through a private QMP socket. A
     * command line with its own {@code -S} stays held, for the user to continue.
     *
     * @param output where QEMU's output goes ({@code INHERIT} for a terminal, {@code PIPE} to read it)
     * @return QEMU, running the guest
     * @throws GuestRamNotProtectedException if QEMU exited first, or its guest RAM did not turn out all
     *                                       secret memory in time (QEMU is stopped then)
     */
    public Process launch(Preflight plan, ProcessBuilder.Redirect output) throws IOException, InterruptedException {
        Path control = Files.createTempDirectory("xpfo-vm", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path qmp = control.resolve("qmp.sock");
        boolean heldByUser = plan.commandLine().has("S");
        List<String> words = new ArrayList<>(plan.commandLine().words());
        if (!heldByUser) {
            words.add("-S");
        }
        words.addAll(List.of("-qmp", "unix:" + qmp + ",server=on,wait=off"));
        ProcessBuilder builder = new ProcessBuilder(words).redirectOutput(output).redirectErrorStream(true);
        if (output == ProcessBuilder.Redirect.INHERIT) {
            builder.redirectInput(ProcessBuilder.Redirect.INHERIT);
        }
        environment(builder.environment());
        Process qemu = builder.start();
        // Until the caller waits for it, a launcher stopped meanwhile must not leave QEMU behind, held.
        Thread stopper = new Thread(() -> ChildProcess.stop(qemu), "xpfo-vm-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            say("QEMU started (pid " + qemu.pid() + "), held until its guest RAM is checked");
            if (!awaitGuestRam(qemu, plan)) {
                if (!qemu.isAlive()) {
                    say("QEMU exited with " + qemu.exitValue() + " before its guest RAM was in place");
                    throw new GuestRamNotProtectedException(qemu.exitValue() != 0 ? qemu.exitValue() : NOT_PROTECTED);
                }
                ChildProcess.stop(qemu);
                throw new GuestRamNotProtectedException(NOT_PROTECTED);
            }
            say("guest RAM " + Bytes.format(plan.guestRamBytes()) + ": all of it secret memory (out of the direct map), "
                    + (settings.source() == RamSource.SERVICE ? "from xpfo serve" : "created cold by QEMU's process"));
            if (heldByUser) {
                say("the command line has -S: the guest waits for cont on your monitor");
            } else {
                try (QmpConnection connection = QmpConnection.open(qmp)) {
                    connection.execute("cont");
                } catch (IOException e) {
                    say("could not let the guest run over QMP (" + e.getMessage() + "); stopping QEMU");
                    ChildProcess.stop(qemu);
                    throw new GuestRamNotProtectedException(NOT_PROTECTED);
                }
            }
            return qemu;
        } catch (RuntimeException e) {
            ChildProcess.stop(qemu);
            throw e;
        } finally {
            Files.deleteIfExists(qmp);
            Files.deleteIfExists(control);
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    /** The environment the preload library reads. */
    void environment(Map<String, String> environment) {
        String existing = environment.get("LD_PRELOAD");
        environment.put("LD_PRELOAD", settings.preload().toString()
                + (existing == null || existing.isBlank() ? "" : ":" + existing));
        environment.put("XPFO_VM_RAM", settings.source().preloadName());
        if (settings.socket() != null) {
            environment.put("XPFO_SOCKET", settings.socket().toString());
        }
        environment.put("XPFO_VM_WARM_ONLY", settings.warmOnly() ? "1" : "0");
    }

    /**
     * Polls QEMU's mappings until secret memory covers all the guest RAM the plan gives it, QEMU exits,
     * or the time is up.
     *
     * @return the secret memory bytes mapped, if they cover the guest RAM
     */
    private boolean awaitGuestRam(Process qemu, Preflight plan) throws InterruptedException {
        long deadline = System.nanoTime() + settings.mapTimeout().toNanos();
        long secret = 0;
        while (qemu.isAlive()) {
            try {
                Optional<ProcessMemory> memory = ProcessMemory.read(qemu.pid());
                secret = memory.map(ProcessMemory::secretMappedBytes).orElse(0L);
                if (secret >= plan.guestRamBytes()) {
                    return true;
                }
            } catch (ProcessMemory.UnreadableException e) {
                say("cannot inspect QEMU (" + e.getMessage() + "); stopping it");
                return false;
            }
            if (System.nanoTime() > deadline) {
                say("QEMU's guest RAM is not all secret memory after " + settings.mapTimeout().toSeconds() + " s ("
                        + Bytes.format(secret) + " of " + Bytes.format(plan.guestRamBytes()) + " direct-map-free); "
                        + "stopping it rather than run the guest on ordinary memory");
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    private void say(String line) {
        out.println("xpfo vm: " + line);
        out.flush();
    }
}
