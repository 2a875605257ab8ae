// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.audit.ProcessMemory;
import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.host.DeviceNumber;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcFiles;
import dev.xpfo.host.SecretMemoryFiles;
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
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Starts QEMU with the preload library and held before the guest's first instruction, confirms from
 * QEMU's own account of its RAM blocks and its mappings that all its guest RAM is secret memory, and
 * only then lets the guest run. The command line's check is a plan; QEMU's answer is the evidence.
 * Otherwise (or if QEMU does not answer in time) QEMU is stopped without having run the guest.
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
     * Starts QEMU held before its first instruction ({@code -S}), asks it over a private QMP socket
     * which RAM blocks and memory backends it has and where each lives in its address space, confirms
     * from QEMU's maps (the {@code /proc/self/maps} descriptor its preload library passes, else
     * {@code /proc/PID/maps}) that every guest RAM block lies entirely in secret memory (see
     * {@link GuestRamCheck}), prints each block, and only then lets the guest run ({@code cont}). A
     * command line with its own {@code -S} stays held, for the user to continue.
     *
     * @param output where QEMU's output goes ({@code INHERIT} for a terminal, {@code PIPE} to read it)
     * @return QEMU, running the guest
     * @throws GuestRamNotProtectedException if QEMU exited first, or its guest RAM did not turn out all
     *                                       secret memory in time (QEMU is stopped then)
     */
    public Process launch(Preflight plan, ProcessBuilder.Redirect output) throws IOException, InterruptedException {
        DeviceNumber secretDevice = SecretMemoryFiles.device();
        Path control = Files.createTempDirectory("xpfo-vm", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path qmp = control.resolve("qmp.sock");
        boolean heldByUser = plan.commandLine().has("S");
        List<String> words = new ArrayList<>(plan.commandLine().words());
        if (!heldByUser) {
            words.add("-S");
        }
        // QEMU connects to the launcher's socket: there is no moment when it listens yet refuses.
        words.addAll(List.of("-qmp", "unix:" + qmp));
        ServerSocketChannel listener = listen(qmp);
        ProcessBuilder builder = new ProcessBuilder(words).redirectOutput(output).redirectErrorStream(true);
        if (output == ProcessBuilder.Redirect.INHERIT) {
            builder.redirectInput(ProcessBuilder.Redirect.INHERIT);
        }
        environment(builder.environment());
        // QEMU runs non-dumpable, so its /proc/PID/maps is root's: it passes its own maps descriptor here.
        Path mapsSocket = control.resolve("maps.sock");
        UnixSocket mapsListener = UnixSocket.listen(mapsSocket);
        builder.environment().put("XPFO_VM_MAPS_SOCKET", mapsSocket.toString());
        Process qemu;
        try {
            qemu = builder.start();
        } catch (IOException e) {
            listener.close();
            mapsListener.close();
            throw e;
        }
        // Until the caller waits for it, a launcher stopped meanwhile must not leave QEMU behind, held.
        Thread stopper = new Thread(() -> ChildProcess.stop(qemu), "xpfo-vm-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        CountDownLatch checked = new CountDownLatch(1);
        AtomicBoolean timedOut = new AtomicBoolean();
        // QEMU answers QMP only once its guest RAM is in place; if that takes too long, stopping QEMU
        // ends every wait below.
        Thread.ofPlatform().daemon().name("xpfo-vm-deadline").start(() -> {
            try {
                if (!checked.await(settings.mapTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    timedOut.set(true);
                    ChildProcess.stop(qemu);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            say("QEMU started (pid " + qemu.pid() + "), held until its guest RAM is checked");
            try (QmpConnection connection = accept(qemu, listener)) {
                GuestRamCheck check = check(qemu, connection, mapsListener, secretDevice);
                check.lines().forEach(line -> say(line));
                if (!check.protectedAll()) {
                    say("QEMU's guest RAM is not all secret memory: " + String.join("; ", check.problems())
                            + ". Stopping QEMU before the guest's first instruction rather than run it on ordinary memory");
                    ChildProcess.stop(qemu);
                    throw new GuestRamNotProtectedException(NOT_PROTECTED);
                }
                say("guest RAM " + Bytes.format(check.guestRamBytes()) + ": all of it secret memory "
                        + "(out of the direct map), " + (settings.source() == RamSource.SERVICE ? "from xpfo serve"
                        : "created cold by QEMU's process"));
                if (heldByUser) {
                    say("the command line has -S: the guest waits for cont on your monitor");
                } else {
                    connection.execute("cont");
                }
            } catch (IOException | ProcessMemory.UnreadableException e) {
                if (timedOut.get()) {
                    say("QEMU did not have its guest RAM in place after " + settings.mapTimeout().toSeconds() + " s; "
                            + "stopped it before the guest's first instruction");
                } else if (qemu.waitFor(5, TimeUnit.SECONDS)) { // the socket closed as QEMU exits
                    say("QEMU exited with " + qemu.exitValue() + " before its guest RAM was in place");
                    throw new GuestRamNotProtectedException(qemu.exitValue() != 0 ? qemu.exitValue() : NOT_PROTECTED);
                } else {
                    say("could not check QEMU's guest RAM (" + e.getMessage() + "); stopping QEMU before the guest's "
                            + "first instruction");
                }
                ChildProcess.stop(qemu);
                throw new GuestRamNotProtectedException(NOT_PROTECTED);
            }
            return qemu;
        } catch (RuntimeException e) {
            ChildProcess.stop(qemu);
            throw e;
        } finally {
            checked.countDown();
            listener.close();
            mapsListener.close();
            Files.deleteIfExists(mapsSocket);
            Files.deleteIfExists(qmp);
            Files.deleteIfExists(control);
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    /** QEMU's RAM as it reports it, matched against its mappings. */
    private static GuestRamCheck check(Process qemu, QmpConnection connection, UnixSocket mapsListener, DeviceNumber secretDevice)
            throws IOException, ProcessMemory.UnreadableException {
        QemuRamView view = QemuRamView.ask(connection);
        List<MapsEntry> regions = mapsFromQemu(mapsListener, qemu.pid());
        if (regions == null) {
            regions = ProcessMemory.read(qemu.pid()).orElseThrow(() -> new IOException("QEMU exited")).regions();
        }
        return GuestRamCheck.of(view, regions, secretDevice);
    }

    /**
     * QEMU's mappings through the {@code /proc/self/maps} descriptor its preload library passed (sent
     * before QEMU's main(), so long queued once QEMU answers QMP); null if none was passed (QEMU
     * without the library): then {@code /proc/PID/maps} is read, which takes a dumpable QEMU or root.
     */
    private static List<MapsEntry> mapsFromQemu(UnixSocket mapsListener, long pid) throws IOException {
        mapsListener.timeouts(Duration.ofMillis(1), Duration.ofMillis(1));
        UnixSocket connection = mapsListener.accept();
        if (connection == null) {
            return null;
        }
        try (connection) {
            if (connection.peerCredentials().pid() != pid) {
                throw new IOException("a process other than QEMU (pid " + connection.peerCredentials().pid()
                        + ") passed a maps descriptor");
            }
            UnixSocket.Received received = connection.receive(1, 1);
            if (received.fds().length != 1) {
                throw new IOException("QEMU's preload library passed no maps descriptor");
            }
            int fd = received.fds()[0];
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            String text = ProcFiles.readAndClose(fd);
            if (!target.equals("/proc/" + pid + "/maps")) {
                throw new IOException("QEMU passed " + target + ", not its /proc/" + pid + "/maps");
            }
            try {
                return MapsEntry.parseAll(text);
            } catch (IllegalArgumentException e) {
                throw new IOException("QEMU's maps could not be read: " + e.getMessage(), e);
            }
        }
    }

    /** The launcher's end of QEMU's private QMP socket, at {@code socket} in a directory only this user can reach. */
    static ServerSocketChannel listen(Path socket) throws IOException {
        return ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(socket));
    }

    /** QEMU's QMP connection; if QEMU exits first, the wait ends with an IOException. */
    static QmpConnection accept(Process qemu, ServerSocketChannel listener) throws IOException {
        qemu.onExit().thenRun(() -> {
            try {
                listener.close();
            } catch (IOException e) {
                // closing only wakes the accept
            }
        });
        return QmpConnection.accept(listener);
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

    private void say(String line) {
        out.println("xpfo vm: " + line);
        out.flush();
    }
}
