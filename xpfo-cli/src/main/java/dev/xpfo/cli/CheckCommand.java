// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.isolation.Attempt;
import dev.xpfo.isolation.CheckReport;
import dev.xpfo.isolation.IsolationCheck;
import dev.xpfo.isolation.MappingFlag;
import dev.xpfo.memory.Bytes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code xpfo check}: proves, by trying from another process, that secret memory is out of reach. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Writes a random marker into populated direct-map-free memory, then tries from a separate "
                + "process to read it through /proc/PID/mem, process_vm_readv and ptrace(PTRACE_PEEKDATA), and scans "
                + "this process's readable memory for it. The same reads of ordinary memory must succeed, or the "
                + "refusals prove nothing.",
                "Exit code: 0 protected, 1 exposed (a read succeeded, the marker was found or a flag is missing), "
                        + "2 inconclusive (secret memory unavailable, or the reads failed on ordinary memory too)."})
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON for machines instead of lines.")
    boolean json;

    @Option(names = "--size", defaultValue = "1M", paramLabel = "BYTES", converter = SizeConverter.class,
            description = "Size of the secret region to try (default: ${DEFAULT-VALUE}).")
    long size;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        CheckReport report = new IsolationCheck(size).run();
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(toJson(report)) : lines(report));
        out.flush();
        return report.verdict().exitCode();
    }

    static String lines(CheckReport report) {
        StringBuilder t = new StringBuilder();
        t.append("secret region: ").append(Bytes.format(report.bytes()));
        if (report.residentPages() >= 0) {
            t.append(", ").append(report.residentPages()).append(" pages resident after populate (mincore), mapped as ")
                    .append(report.smapsName());
        }
        t.append('\n');
        for (MappingFlag flag : report.flags()) {
            t.append(String.format("  VmFlags %-3s %-8s %s%n", flag.flag(), flag.present() ? "present" : "MISSING", flag.meaning()));
        }
        for (Attempt a : report.attempts()) {
            boolean control = a.target().equals("control");
            String outcome = a.method().equals("scan")
                    ? (a.markerFound() ? (control ? "marker found" : "MARKER FOUND") : "marker not found")
                    : a.errno() != 0 ? "refused " + a.errnoName()
                    : (control ? "read " : "READ ") + a.bytesRead() + " B" + (a.markerFound() ? ", marker found" : "");
            t.append(String.format("  %-17s %-8s %-26s %s%n", a.method(), a.target(), outcome, a.detail()));
        }
        t.append(report.verdict()).append(": ").append(report.reason());
        return t.toString();
    }

    static ObjectNode toJson(CheckReport report) {
        ObjectNode root = Json.object();
        root.put("verdict", report.verdict().name().toLowerCase(java.util.Locale.ROOT));
        root.put("protected", report.verdict() == dev.xpfo.isolation.Verdict.PROTECTED);
        root.put("reason", report.reason());
        root.put("bytes", report.bytes());
        root.put("resident_pages", report.residentPages());
        root.put("smaps_name", report.smapsName());
        ObjectNode flags = root.putObject("vm_flags");
        report.flags().forEach(f -> flags.put(f.flag(), f.present()));
        ArrayNode attempts = root.putArray("attempts");
        for (Attempt a : report.attempts()) {
            ObjectNode node = attempts.addObject();
            node.put("method", a.method());
            node.put("target", a.target());
            node.put("refused", a.refused());
            node.put("errno", a.errno() == 0 ? null : a.errnoName());
            node.put("bytes_read", a.bytesRead());
            node.put("marker_found", a.markerFound());
            node.put("detail", a.detail());
        }
        return root;
    }
}
