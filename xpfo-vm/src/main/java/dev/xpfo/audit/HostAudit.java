// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.host.CoreScheduling;
import dev.xpfo.host.CoreSchedulingSupport;
import dev.xpfo.host.CpuExposure;
import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.ProcessDirectory;
import dev.xpfo.host.ProcessScanner;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.CoreSchedulingUnavailableException;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.vm.QemuCommandLine;
import dev.xpfo.vm.QemuPreflight;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The host's exposure: which VM guest RAM and other secret data is out of the kernel's direct map,
 * and whether VMs can share a core's hyperthreads with other tasks. As root it looks at every
 * process; as a user, at that user's own.
 */
public final class HostAudit {
    /** Anonymous mappings at least this large may be guest RAM of a VMM whose command line says nothing. */
    static final long LARGE_ANONYMOUS = 64L << 20;
    private static final Path PROC = Path.of("/proc");

    private HostAudit() {
    }

    /** The initial PID namespace's inode number (PROC_PID_INIT_INO): the host's, not a container's. */
    private static final String HOST_PID_NAMESPACE = "pid:[4026531836]";

    public static AuditReport run() {
        int me = ServiceSocket.currentUid();
        boolean hostNamespace = hostPidNamespace();
        boolean wholeHost = me == 0 && hostNamespace;
        CpuExposure cpu = CpuExposure.read();
        CoreSchedulingSupport cores = CoreSchedulingSupport.probe();
        List<VmFinding> vms = new ArrayList<>();
        List<SecretHolder> holders = new ArrayList<>();
        List<String> notInspected = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        for (long pid : ProcessScanner.pids()) {
            if (pid == self || (me != 0 && realUid(pid) != me)) {
                continue;
            }
            Optional<ProcessMemory> read;
            try {
                read = ProcessMemory.read(pid);
            } catch (ProcessMemory.UnreadableException e) {
                notInspected.add("pid " + pid + " (" + new ProcessDirectory(pid).name() + "): "
                        + e.getMessage());
                continue;
            }
            if (read.isEmpty()) {
                continue;
            }
            ProcessMemory process = read.get();
            Optional<Vmm> vmm = Vmm.of(process.executable());
            if (vmm.isPresent() && new ProcessDirectory(pid).name().startsWith("cleanup/")) {
                continue; // QEMU's async-teardown helper shares its parent's memory: not a second VM
            }
            if (vmm.isPresent()) {
                vms.add(vm(process, vmm.get(), cpu));
            } else if (!process.secretFiles().isEmpty()) {
                holders.add(new SecretHolder(pid, process.uid(), process.executable(), process.secretFiles().size(),
                        process.secretHeldBytes(), process.secretMappedBytes()));
            }
        }
        String scope = wholeHost ? "the whole host (run as root)"
                : me == 0 ? "this PID namespace only (run as root in a container: VMs outside it are not seen; run on the host)"
                : "only uid " + me + "'s own processes (not root: other users' VMs are not seen; run as root for the whole host)";
        String smt = "control " + cpu.smtControl() + ", " + (cpu.smtActive() ? "sibling threads active" : "no sibling threads active");
        List<String> verdicts = List.of(memoryVerdict(vms, wholeHost), coresVerdict(vms, cpu, cores));
        return new AuditReport(scope, wholeHost, List.copyOf(vms), List.copyOf(holders), List.copyOf(notInspected),
                new TreeMap<>(cpu.vulnerabilities()), smt, cores.reason(), verdicts);
    }

    /** The finding for one VMM process. */
    static VmFinding vm(ProcessMemory process, Vmm vmm, CpuExposure cpu) {
        long secret = process.secretMappedBytes();
        long ram;
        String from;
        Optional<Long> declared = vmm == Vmm.QEMU ? declaredRam(process.commandLine()) : Optional.empty();
        if (declared.isPresent()) {
            ram = declared.get();
            from = "its command line";
        } else {
            ram = process.regions().stream().filter(region -> mayBeGuestRam(process, region)).mapToLong(MapsEntry::bytes).sum();
            from = "estimated from its mappings (secret memory, memfd and shared files, anonymous mappings of "
                    + Bytes.format(LARGE_ANONYMOUS) + " or more)";
        }
        long free = Math.min(secret, ram);
        long exposed = ram - free;
        String name = vmm.title() + " pid " + process.pid();
        String verdict = ram == 0 ? name + ": no guest RAM found"
                : exposed == 0 ? name + ": all " + Bytes.format(ram) + " of guest RAM is direct-map-free"
                : name + ": " + Bytes.format(exposed) + " of " + Bytes.format(ram) + " guest RAM is in the direct map "
                + "(ordinary memory: a speculative-execution leak or kernel read primitive reaches it through the direct map)";
        CoreState cores = coreScheduling(process.pid(), cpu);
        return new VmFinding(process.pid(), process.uid(), vmm.title(), process.executable(), ram, from, free, exposed,
                groups(process, exposed > 0), cores.cookie(), cores.words(), verdict);
    }

    private static Optional<Long> declaredRam(List<String> commandLine) {
        try {
            return Optional.of(QemuPreflight.declaredRam(QemuCommandLine.parse(commandLine)));
        } catch (RuntimeException e) {
            return Optional.empty(); // a command line this parser does not follow: estimate instead
        }
    }

    private static boolean mayBeGuestRam(ProcessMemory process, MapsEntry region) {
        return switch (process.kind(region)) {
            case SECRET_MEMORY, MEMFD, SHARED_FILE -> region.permissions().startsWith("rw");
            case ANONYMOUS -> region.permissions().startsWith("rw") && region.bytes() >= LARGE_ANONYMOUS;
            case OTHER -> false;
        };
    }

    /** The mappings that may hold guest RAM; large anonymous ones only while some guest RAM is unaccounted for. */
    private static List<VmFinding.MappingGroup> groups(ProcessMemory process, boolean withAnonymous) {
        Map<String, VmFinding.MappingGroup> groups = new TreeMap<>();
        for (MapsEntry region : process.regions()) {
            MappingKind kind = process.kind(region);
            if (!mayBeGuestRam(process, region) || (!withAnonymous && kind == MappingKind.ANONYMOUS)) {
                continue;
            }
            String name = region.path().replace(" (deleted)", "");
            groups.merge(kind + name, new VmFinding.MappingGroup(kind, name, 1, region.bytes()),
                    (a, b) -> new VmFinding.MappingGroup(a.kind(), a.name(), a.count() + 1, a.bytes() + b.bytes()));
        }
        return groups.values().stream().sorted(Comparator.comparing(VmFinding.MappingGroup::kind)).toList();
    }

    /** A VMM's core-scheduling cookie (0: none, -1: unknown) and the same in words. */
    private record CoreState(long cookie, String words) {
    }

    /** The cookie every thread of {@code pid} has; -1 if they differ or it cannot be read. */
    private static CoreState coreScheduling(long pid, CpuExposure cpu) {
        String smt = cpu.smtActive() ? "" : " (no SMT active: no core is shared anyway)";
        try {
            Set<Long> cookies = new TreeSet<>();
            for (long thread : new ProcessDirectory(pid).threads()) {
                cookies.add(CoreScheduling.cookie(thread));
            }
            if (cookies.size() > 1) {
                return new CoreState(-1, "threads with different cookies (" + cookies.stream()
                        .map(c -> "0x" + Long.toHexString(c)).toList() + "): some may share a core with other tasks" + smt);
            }
            long cookie = cookies.isEmpty() ? 0 : cookies.iterator().next();
            return new CoreState(cookie, (cookie == 0 ? "no cookie: may share a core's hyperthreads with any task "
                    + "without one" : "cookie 0x" + Long.toHexString(cookie)) + smt);
        } catch (NativeCallException e) {
            return new CoreState(-1, (e instanceof CoreSchedulingUnavailableException unavailable
                    && unavailable.reason() == CoreSchedulingUnavailableException.Reason.NOT_IN_KERNEL
                    ? "not available: this kernel is built without CONFIG_SCHED_CORE" : "unknown: " + e.getMessage()) + smt);
        }
    }

    private static String memoryVerdict(List<VmFinding> vms, boolean wholeHost) {
        String where = wholeHost ? "" : " (of this user's VMs)";
        if (vms.isEmpty()) {
            return "host: no VMM process found" + where;
        }
        List<VmFinding> exposed = vms.stream().filter(vm -> vm.exposedBytes() > 0).toList();
        List<VmFinding> unknown = vms.stream().filter(vm -> vm.guestRamBytes() == 0).toList();
        long ram = vms.stream().mapToLong(VmFinding::guestRamBytes).sum();
        if (!unknown.isEmpty() && exposed.isEmpty()) {
            return "host: no guest RAM found for " + unknown.size() + " of " + vms.size() + " VMs (pid "
                    + String.join(", ", unknown.stream().map(vm -> Long.toString(vm.pid())).toList())
                    + "): cannot tell whether their memory is direct-map-free";
        }
        if (exposed.isEmpty()) {
            return "host: all VM private memory is direct-map-free" + where + " (" + vms.size() + " VM"
                    + (vms.size() == 1 ? "" : "s") + ", " + Bytes.format(ram) + ")";
        }
        long bytes = exposed.stream().mapToLong(VmFinding::exposedBytes).sum();
        return "host: " + Bytes.format(bytes) + " of VM private memory is in the direct map" + where + ", in "
                + exposed.size() + " of " + vms.size() + " VMs (pid "
                + String.join(", ", exposed.stream().map(vm -> Long.toString(vm.pid())).toList()) + ")";
    }

    private static String coresVerdict(List<VmFinding> vms, CpuExposure cpu, CoreSchedulingSupport cores) {
        if (!cpu.smtActive()) {
            return "cores: no SMT sibling threads are active (" + cpu.smtControl() + "): no task shares a core's "
                    + "hyperthreads with a VM";
        }
        if (!cores.available()) {
            return "cores: SMT is on and core scheduling is not available (" + cores.reason() + "): a VM can share a "
                    + "core's hyperthreads with any task";
        }
        if (vms.isEmpty()) {
            return "cores: SMT is on and the kernel has core scheduling; no VM to check";
        }
        long without = vms.stream().filter(vm -> vm.coreCookie() <= 0).count();
        long shared = vms.stream().filter(vm -> vm.coreCookie() > 0)
                .filter(vm -> vms.stream().anyMatch(other -> other != vm && other.coreCookie() == vm.coreCookie())).count();
        if (without == 0 && shared == 0) {
            return "cores: every VM has a core-scheduling cookie no other VM has (other processes' cookies are not compared)";
        }
        return "cores: " + without + " VM" + (without == 1 ? "" : "s") + " without a core-scheduling cookie on all threads and "
                + shared + " sharing one with another VM can share a core's hyperthreads with other tasks "
                + "(start each with xpfo vm --core-isolate)";
    }

    /** The real uid from {@code /proc/PID/status} (the directory's owner is root for non-dumpable processes); -1 if it exited. */
    static int realUid(long pid) {
        try {
            return new ProcessDirectory(pid).realUid();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static boolean hostPidNamespace() {
        try {
            return Files.readSymbolicLink(PROC.resolve("self/ns/pid")).toString().equals(HOST_PID_NAMESPACE);
        } catch (IOException e) {
            return false;
        }
    }
}
