package dev.xpfo.vm;

import dev.xpfo.audit.ProcessMemory;
import dev.xpfo.memory.Bytes;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starts QEMU with the preload library, confirms from {@code /proc} that all its guest RAM is secret
 * memory before letting it run on, and waits for it. If the guest RAM is not all direct-map-free
 * in time, QEMU is stopped: a VM never runs on ordinary memory by surprise.
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
        Process qemu = start(plan);
        Thread stopper = new Thread(() -> stop(qemu), "xpfo-vm-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        say("QEMU started (pid " + qemu.pid() + "); waiting for its guest RAM");
        Optional<Long> confirmed = awaitGuestRam(qemu, plan);
        if (confirmed.isEmpty()) {
            if (!qemu.isAlive()) {
                say("QEMU exited with " + qemu.exitValue() + " before its guest RAM was in place");
                return qemu.exitValue();
            }
            stop(qemu);
            return NOT_PROTECTED;
        }
        say("guest RAM " + Bytes.format(plan.guestRamBytes()) + ": all of it secret memory (out of the direct map), "
                + (settings.source() == RamSource.SERVICE ? "from xpfo serve" : "created cold by QEMU's process"));
        int exit = qemu.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(stopper);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway and finds QEMU gone
        }
        return exit;
    }

    /** Starts QEMU with the preload library, sharing this process's terminal. */
    private Process start(Preflight plan) throws IOException {
        return processBuilder(plan).inheritIO().start();
    }

    /** QEMU's command line with the preload library and its settings in the environment; output not redirected. */
    public ProcessBuilder processBuilder(Preflight plan) {
        ProcessBuilder builder = new ProcessBuilder(plan.commandLine().words());
        environment(builder.environment());
        return builder;
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
    private Optional<Long> awaitGuestRam(Process qemu, Preflight plan) throws InterruptedException {
        long deadline = System.nanoTime() + settings.mapTimeout().toNanos();
        long secret = 0;
        while (qemu.isAlive()) {
            try {
                Optional<ProcessMemory> memory = ProcessMemory.read(qemu.pid());
                secret = memory.map(ProcessMemory::secretMappedBytes).orElse(0L);
                if (secret >= plan.guestRamBytes()) {
                    return Optional.of(secret);
                }
            } catch (ProcessMemory.UnreadableException e) {
                say("cannot inspect QEMU (" + e.getMessage() + "); stopping it");
                return Optional.empty();
            }
            if (System.nanoTime() > deadline) {
                say("QEMU's guest RAM is not all secret memory after " + settings.mapTimeout().toSeconds() + " s ("
                        + Bytes.format(secret) + " of " + Bytes.format(plan.guestRamBytes()) + " direct-map-free); "
                        + "stopping it rather than run the guest on ordinary memory");
                return Optional.empty();
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return Optional.empty();
    }

    private static void stop(Process qemu) {
        if (!qemu.isAlive()) {
            return;
        }
        qemu.destroy();
        try {
            if (!qemu.waitFor(10, TimeUnit.SECONDS)) {
                qemu.destroyForcibly();
            }
        } catch (InterruptedException e) {
            qemu.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void say(String line) {
        out.println("xpfo vm: " + line);
        out.flush();
    }
}
