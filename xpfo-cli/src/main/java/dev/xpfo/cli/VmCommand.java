// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.client.XpfoClient;
import dev.xpfo.host.KvmSupport;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.vm.PreloadLibrary;
import dev.xpfo.vm.Preflight;
import dev.xpfo.vm.QemuCommandLine;
import dev.xpfo.vm.QemuPreflight;
import dev.xpfo.vm.RamSource;
import dev.xpfo.vm.Refusal;
import dev.xpfo.vm.VmLauncher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code xpfo vm -- qemu-system-x86_64 ...}: QEMU with all guest RAM out of the kernel's direct map. */
@Command(name = "vm", mixinStandardHelpOptions = true,
        description = {"Runs QEMU with all of its guest RAM in secret memory (out of the kernel's direct map), taken "
                + "from the running `xpfo serve`. Checks the command line first: refuses, with the reason and the fix, "
                + "what cannot run from secret memory (KVM, RAM backends other than memfd, vhost and VFIO devices), "
                + "rewrites what has a buffered equivalent (cache=none, aio=native, vhost=on, -m without a backend), "
                + "and says so. QEMU starts held; xpfo vm asks it over a private QMP socket for every RAM block and where it "
                + "lives, prints each, and lets the guest run only if every guest RAM block lies in secret memory "
                + "(else stops QEMU before the guest's first instruction). Refuses monitors and the gdbstub on the "
                + "network: whoever can talk to QEMU's monitor can read guest RAM.",
                "Example: xpfo vm -- qemu-system-x86_64 -m 1G -kernel bzImage -append console=ttyS0 -nographic"})
final class VmCommand implements Callable<Integer> {
    @Option(names = "--ram", paramLabel = "SOURCE", defaultValue = "service",
            description = "Where guest RAM comes from: service (xpfo serve's warm stock; default) or secretmem "
                    + "(created by QEMU's process; each page pays its direct-map removal when the guest first touches it).")
    RamSource ram;

    @Option(names = "--warm-only", description = "Refuse rather than let the service populate missing memory while QEMU waits.")
    boolean warmOnly;

    @Option(names = "--dry-run", description = "Check and rewrite the command line, print it, start nothing.")
    boolean dryRun;

    @Mixin
    ServiceConnection service;

    @Mixin
    CoreIsolationOptions cores;

    @Parameters(arity = "1..*", paramLabel = "QEMU", description = "The QEMU command line, after --.")
    List<String> qemu;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Preflight plan;
        try {
            plan = QemuPreflight.check(QemuCommandLine.parse(qemu), KvmSupport::probe);
        } catch (IllegalArgumentException e) {
            err.println("xpfo vm: refused, QEMU not started: cannot read the command line: " + e.getMessage());
            err.flush();
            return Main.FAILED;
        }
        plan.rewrites().forEach(r -> err.println("xpfo vm: rewrote: " + r));
        if (plan.refused()) {
            err.println("xpfo vm: refused, QEMU not started:");
            for (Refusal refusal : plan.refusals()) {
                err.println("  - " + refusal.what() + ": " + refusal.why() + ".");
                err.println("    fix: " + refusal.fix());
            }
            err.flush();
            return Main.FAILED;
        }
        if (dryRun) {
            err.flush();
            out.println(String.join(" ", plan.commandLine().words().stream().map(VmCommand::quoted).toList()));
            out.flush();
            return 0;
        }
        String problem = memoryProblem(plan);
        if (problem != null) {
            err.println("xpfo vm: refused, QEMU not started: " + problem);
            err.flush();
            return Main.FAILED;
        }
        if (!cores.apply("vm", err)) {
            return Main.FAILED;
        }
        VmLauncher launcher = new VmLauncher(new VmLauncher.Settings(PreloadLibrary.locate(), ram,
                service.path(), warmOnly, Duration.ofSeconds(30)), err);
        return launcher.run(plan);
    }

    /** A word as a shell would need it written. */
    static String quoted(String word) {
        return word.matches("[A-Za-z0-9_=,./:@%+-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    /** What stops the guest RAM from being had, in words, or null. */
    private String memoryProblem(Preflight plan) {
        long bytes = plan.guestRamBytes();
        MemlockLimit memlock = MemlockLimit.current();
        if (new MemlockLimit(memlock.soft(), memlock.hard(), memlock.capIpcLock(), 0).wouldRefuse(bytes)) {
            return "guest RAM of " + Bytes.format(bytes) + " would exceed RLIMIT_MEMLOCK ("
                    + Bytes.describeLimit(memlock.soft()) + "), which secret memory counts against: raise it to "
                    + MemlockLimit.kib(bytes) + " KiB or more:" + new MemlockLimit(memlock.soft(), memlock.hard(), false, 0)
                    .remedy(bytes);
        }
        if (ram != RamSource.SERVICE) {
            return null;
        }
        try (XpfoClient client = service.connect()) {
            // The preload library asks for each memory backend on its own.
            for (long backend : plan.backendBytes()) {
                if (backend % client.chunkBytes() != 0) {
                    return "a guest RAM backend of " + Bytes.format(backend) + " is not a whole number of the service's "
                            + Bytes.format(client.chunkBytes()) + " chunks: use a multiple of " + Bytes.format(client.chunkBytes());
                }
                if (backend > client.maxGrantBytes()) {
                    return "a guest RAM backend of " + Bytes.format(backend) + " is more than the service grants at once ("
                            + Bytes.format(client.maxGrantBytes()) + "): raise xpfo serve --max-grant";
                }
            }
            return null;
        } catch (XpfoException e) {
            return "no xpfo serve to take guest RAM from (" + e.getMessage() + "): start it (xpfo serve), or pass "
                    + "--ram secretmem (cold: each page pays its direct-map removal when the guest first touches it)";
        }
    }
}
