// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.host.CoreSchedulingSupport;
import dev.xpfo.host.CpuExposure;
import dev.xpfo.host.DirectMapState;
import dev.xpfo.host.HostProbe;
import dev.xpfo.host.KvmSupport;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.host.SecretMemorySupport;
import dev.xpfo.memory.Bytes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code xpfo probe}: what this host and process can do, and what they cannot. */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"Reports whether memfd_secret works here and why not, the memlock budget, the direct map, "
                + "CPU vulnerabilities and SMT, core scheduling and KVM.",
                "Exit code: 0 if secret memory is usable in this process, 3 if not."})
final class ProbeCommand implements Callable<Integer> {
    static final int UNAVAILABLE = 3;

    @Option(names = "--json", description = "Print JSON for machines instead of the table.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        HostProbe probe = HostProbe.run();
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(toJson(probe)) : table(probe));
        out.flush();
        return probe.secretMemory().available() ? 0 : UNAVAILABLE;
    }

    static ObjectNode toJson(HostProbe probe) {
        ObjectNode root = Json.object();
        root.put("kernel", probe.kernel());
        SecretMemorySupport secret = probe.secretMemory();
        ObjectNode memfd = root.putObject("memfd_secret");
        memfd.put("available", secret.available());
        memfd.put("errno", secret.errnoName());
        memfd.put("reason", secret.reason());
        MemlockLimit memlock = probe.memlock();
        ObjectNode limit = root.putObject("memlock");
        limit.put("soft", memlock.soft());
        limit.put("hard", memlock.hard());
        limit.put("cap_ipc_lock", memlock.capIpcLock());
        limit.put("locked", memlock.lockedBytes());
        limit.put("can_map", memlock.limited() ? memlock.roomBytes() : -1);
        DirectMapState map = probe.directMap();
        ObjectNode direct = root.putObject("direct_map");
        direct.put("bytes_4k", map.bytes4k());
        direct.put("bytes_2m", map.bytes2m());
        direct.put("bytes_1g", map.bytes1g());
        direct.put("level2_splits", map.level2Splits());
        direct.put("level3_splits", map.level3Splits());
        CpuExposure cpu = probe.cpu();
        ObjectNode smt = root.putObject("smt");
        smt.put("control", cpu.smtControl());
        smt.put("active", cpu.smtActive());
        ObjectNode vulnerabilities = root.putObject("vulnerabilities");
        cpu.vulnerabilities().forEach(vulnerabilities::put);
        CoreSchedulingSupport core = probe.coreScheduling();
        ObjectNode scheduling = root.putObject("core_scheduling");
        scheduling.put("available", core.available());
        scheduling.put("reason", core.reason());
        KvmSupport kvm = probe.kvm();
        ObjectNode k = root.putObject("kvm");
        k.put("present", kvm.present());
        k.put("guest_memfd", kvm.guestMemfd());
        k.put("guest_memfd_no_direct_map", kvm.noDirectMap());
        k.put("detail", kvm.detail());
        return root;
    }

    static String table(HostProbe probe) {
        StringBuilder t = new StringBuilder();
        SecretMemorySupport secret = probe.secretMemory();
        MemlockLimit memlock = probe.memlock();
        DirectMapState map = probe.directMap();
        CpuExposure cpu = probe.cpu();
        row(t, "kernel", probe.kernel());
        row(t, "memfd_secret", (secret.available() ? "available" : "UNAVAILABLE") + ": " + secret.reason());
        row(t, "memlock limit", "soft " + limit(memlock.soft()) + ", hard " + limit(memlock.hard())
                + (memlock.capIpcLock() ? "; CAP_IPC_LOCK held, so the limit does not apply" : "; no CAP_IPC_LOCK: every secret mapping counts"));
        row(t, "memory locked now", Bytes.format(memlock.lockedBytes()));
        row(t, "can map", canMap(memlock));
        row(t, "direct map", "4k " + kib(map.bytes4k()) + ", 2M " + kib(map.bytes2m()) + ", 1G " + kib(map.bytes1g()));
        row(t, "direct map splits", "level2 " + map.level2Splits() + ", level3 " + map.level3Splits() + " since boot");
        row(t, "SMT", cpu.smtControl() + (cpu.smtActive() ? " (sibling threads active)" : " (not active)"));
        row(t, "core scheduling", (probe.coreScheduling().available() ? "available: " : "UNAVAILABLE: ") + probe.coreScheduling().reason());
        row(t, "KVM", probe.kvm().detail());
        t.append("CPU vulnerabilities (as the kernel reports them):\n");
        for (Map.Entry<String, String> v : cpu.vulnerabilities().entrySet()) {
            t.append(String.format("  %-26s %s%n", v.getKey(), v.getValue()));
        }
        return t.toString().stripTrailing();
    }

    /** A limit in bytes and in the unit ulimit -l and limits.conf use. */
    private static String limit(long bytes) {
        return bytes < 0 ? "unlimited" : Bytes.format(bytes) + " (ulimit -l " + MemlockLimit.ulimitUnits(bytes) + ")";
    }

    /** How much secret memory this user can map, and how to get more when that is little. */
    static String canMap(MemlockLimit memlock) {
        if (!memlock.limited()) {
            return "as much secret memory as the machine has: the memlock limit does not apply"
                    + (memlock.capIpcLock() ? " (CAP_IPC_LOCK)" : " (unlimited)");
        }
        String amount = Bytes.format(memlock.roomBytes()) + " of secret memory at once, in each process of this user "
                + "(the soft limit less what this process has locked); `xpfo alloc`, `xpfo pool` and a VM count against it";
        if (memlock.soft() >= 256 * Bytes.MIB) {
            return amount;
        }
        return amount + ".\n" + " ".repeat(21) + "To map 256 MiB (the README's examples), raise it to "
                + memlock.neededKib(256 * Bytes.MIB - memlock.lockedBytes()) + " KiB:"
                + memlock.remedy(256 * Bytes.MIB - memlock.lockedBytes()).replace("\n  ", "\n" + " ".repeat(21));
    }

    private static String kib(long bytes) {
        return bytes < 0 ? "n/a" : Bytes.format(bytes);
    }

    private static void row(StringBuilder t, String name, String value) {
        t.append(String.format("%-20s %s%n", name, value));
    }
}
