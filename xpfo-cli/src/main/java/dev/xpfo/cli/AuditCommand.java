// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.xpfo.audit.AuditReport;
import dev.xpfo.audit.HostAudit;
import dev.xpfo.audit.SecretHolder;
import dev.xpfo.audit.VmFinding;
import dev.xpfo.memory.Bytes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code xpfo audit}: which VM memory and secret data on this host is out of the direct map. */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = {"Reports the host's exposure: every VMM process (QEMU, Firecracker, Cloud Hypervisor, crosvm) "
                + "with how much of its guest RAM is secret memory (direct-map-free) and how much is exposed, its "
                + "core-scheduling cookie; every other process holding secret memory; the CPU's vulnerabilities and "
                + "SMT; and a verdict per VM and for the host. As root it sees every process, as a user only its own.",
                "Exit status: 0 when no VM guest RAM is exposed, 3 when some is, 4 when none is found exposed "
                        + "but some VM's guest RAM was not found."})
final class AuditCommand implements Callable<Integer> {
    /** The exit code when some VM has guest RAM in the direct map. */
    static final int EXPOSED = 3;
    /** The exit code when nothing was found exposed but some VM's guest RAM was not found at all. */
    static final int UNKNOWN = 4;

    /** The same keys as the other commands' JSON: {@code guest_ram_bytes}, not {@code guestRamBytes}. */
    private static final ObjectMapper SNAKE_CASE = Json.MAPPER.copy().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    @Option(names = "--json", description = "Print JSON for machines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws JsonProcessingException {
        AuditReport report = HostAudit.run();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(SNAKE_CASE.writeValueAsString(report));
        } else {
            print(report, out);
        }
        out.flush();
        return report.exposed() ? EXPOSED : report.unknown() ? UNKNOWN : 0;
    }

    private static void print(AuditReport report, PrintWriter out) {
        out.println("scope: " + report.scope());
        out.println("VMs (" + report.vms().size() + "):");
        for (VmFinding vm : report.vms()) {
            out.printf("  %s pid %d (%s, uid %d): guest RAM %s (from %s)%n", vm.vmm(), vm.pid(), vm.executable(), vm.uid(),
                    Bytes.format(vm.guestRamBytes()), vm.guestRamFrom());
            out.printf("    direct-map-free %s, exposed %s%n", Bytes.format(vm.directMapFreeBytes()),
                    Bytes.format(vm.exposedBytes()));
            for (VmFinding.MappingGroup group : vm.mappings()) {
                out.printf("    mapped: %s %s (%d mapping%s, %s)%n", group.kind(), group.name().isEmpty() ? "(anonymous)"
                        : group.name(), group.count(), group.count() == 1 ? "" : "s", Bytes.format(group.bytes()));
            }
            out.println("    core scheduling: " + vm.coreScheduling());
        }
        out.println("other processes holding secret memory (" + report.secretHolders().size() + "):");
        for (SecretHolder holder : report.secretHolders()) {
            out.printf("  pid %d %s (uid %d): %s in %d file%s, %s of it mapped%n", holder.pid(), holder.executable(),
                    holder.uid(), Bytes.format(holder.bytes()), holder.files(), holder.files() == 1 ? "" : "s",
                    Bytes.format(holder.mapped()));
        }
        report.notInspected().forEach(p -> out.println("not inspected: " + p));
        out.println("SMT: " + report.smt());
        out.println("core scheduling: " + report.coreScheduling());
        out.println("CPU vulnerabilities (as the kernel reports them):");
        for (Map.Entry<String, String> entry : report.vulnerabilities().entrySet()) {
            out.println("  " + entry.getKey() + ": " + entry.getValue());
        }
        for (VmFinding vm : report.vms()) {
            out.println("verdict: " + vm.verdict());
        }
        for (String verdict : report.verdicts()) {
            out.println("verdict: " + verdict);
        }
    }
}
