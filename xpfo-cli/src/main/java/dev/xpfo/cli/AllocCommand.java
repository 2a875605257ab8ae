// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.client.GrantedMemory;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.host.MemlockLimit;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.PageSize;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.lang.management.ManagementFactory;
import java.util.concurrent.Callable;

/** {@code xpfo alloc}: asks the running service for memory, maps and touches it, holds it, lets go. */
@Command(name = "alloc", mixinStandardHelpOptions = true,
        description = {"Asks the running `xpfo serve` for memory, maps it (one range between guard pages) and writes "
                + "every page, then prints what it got and how long each step took. With --hold it keeps the memory "
                + "for that long (Ctrl-C to end sooner), e.g. to look at it from another process."})
final class AllocCommand implements Callable<Integer> {
    @Option(names = "--size", required = true, paramLabel = "BYTES", converter = SizeConverter.class,
            description = "How much, e.g. 64M (rounded up to chunks).")
    long size;

    @Option(names = "--hold", paramLabel = "SECONDS", defaultValue = "0", converter = SecondsConverter.class,
            description = "Keep the memory this long before releasing it (default: ${DEFAULT-VALUE}).")
    double hold;

    @Option(names = "--marker", paramLabel = "TEXT",
            description = "Write this text at the start of the memory (to show that other processes cannot read it).")
    String marker;

    @Option(names = "--warm-only", description = "Refuse rather than wait for the service to populate memory.")
    boolean warmOnly;

    @Mixin
    ServiceConnection service;

    @Option(names = "--json", description = "Print JSON for machines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        long bytes = size;
        // Start-up, apart from connecting: from the process's start (exec, the JVM, loading xpfo) to here,
        // with the native bindings linked by the memlock check below rather than by the first connect.
        MemlockLimit memlock = MemlockLimit.current();
        StartUp startUp = StartUp.now();
        if (memlock.wouldRefuse(bytes)) {
            // Before asking: the service would populate a grant this process cannot map.
            throw new MemlockLimitException(bytes, memlock.soft(), memlock.hard(), memlock.lockedBytes());
        }
        PrintWriter out = spec.commandLine().getOut();
        long connectStart = System.nanoTime();
        try (XpfoClient client = service.connect()) {
            long grantStart = System.nanoTime();
            try (GrantedMemory memory = client.grant(bytes, warmOnly)) {
                long touchStart = System.nanoTime();
                MemorySegment segment = memory.segment();
                for (long offset = 0; offset < segment.byteSize(); offset += PageSize.BYTES) {
                    segment.set(ValueLayout.JAVA_BYTE, offset, (byte) 1);
                }
                long touched = System.nanoTime();
                if (marker != null) {
                    byte[] text = marker.getBytes(StandardCharsets.UTF_8);
                    MemorySegment.copy(text, 0, segment, ValueLayout.JAVA_BYTE, 0, text.length);
                }
                long pid = ProcessHandle.current().pid();
                if (json) {
                    ObjectNode root = Json.object();
                    root.put("pid", pid);
                    root.put("grant_id", memory.grantId());
                    root.put("bytes", memory.bytes());
                    root.put("chunks", memory.chunks());
                    root.put("address", "0x" + Long.toHexString(segment.address()));
                    root.put("startup_ms", startUp.jvmMillis());
                    root.put("launcher_ms", startUp.launcherMillis());
                    root.put("connect_ms", (grantStart - connectStart) / 1e6);
                    root.put("grant_ms", (touchStart - grantStart) / 1e6);
                    root.put("touch_ms", (touched - touchStart) / 1e6);
                    out.println(Json.write(root));
                } else {
                    out.printf("granted %s in %d chunks (grant %d) at 0x%x in pid %d%n", Bytes.format(memory.bytes()),
                            memory.chunks(), memory.grantId(), segment.address(), pid);
                    out.println(startUp.line());
                    out.printf("connect %.2f ms, grant and map %.2f ms, write every page %.2f ms (%.2f us per page)%n",
                            (grantStart - connectStart) / 1e6, (touchStart - grantStart) / 1e6, (touched - touchStart) / 1e6,
                            (touched - touchStart) / 1e3 / PageSize.pagesIn(memory.bytes()));
                    if (hold > 0) {
                        out.printf("holding for %.0f s%n", hold);
                    }
                }
                out.flush();
                if (hold > 0) {
                    Thread.sleep((long) (hold * 1000));
                }
            }
        }
        return 0;
    }

    /**
     * Start-up, measured apart from connecting: {@code jvm} from the JVM's start (as it records it) to this
     * command, {@code launcher} from the process's start (as the kernel counts it, in clock ticks) to the
     * JVM's, which is the {@code ./xpfo} script's time (finding the JDK, checking the build) when it
     * execs the JVM, and about 0 otherwise.
     */
    record StartUp(double jvmMillis, Double launcherMillis) {
        static StartUp now() {
            long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
            long now = System.currentTimeMillis();
            Double launcher = ProcessHandle.current().info().startInstant()
                    .map(start -> (double) Math.max(0, jvmStart - start.toEpochMilli()))
                    .orElse(null);
            return new StartUp(now - jvmStart, launcher);
        }

        String line() {
            return String.format("start-up: the JVM and xpfo %.0f ms%s", jvmMillis, launcherMillis == null ? ""
                    : String.format("; before the JVM (the ./xpfo launcher: finding the JDK, checking the build) %.0f ms",
                    launcherMillis));
        }
    }
}
