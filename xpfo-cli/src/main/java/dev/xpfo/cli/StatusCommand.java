// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.xpfo.client.XpfoClient;
import dev.xpfo.memory.Bytes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code xpfo status}: the running service's state. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Asks the running `xpfo serve` for its state: stock ready and target, granted bytes by uid, "
                + "clients, grants and refusals, memory populated on demand, refill rate.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    ServiceConnection service;

    @Option(names = "--json", description = "Print the service's JSON document as it is.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws JsonProcessingException {
        String document;
        try (XpfoClient client = service.connect()) {
            document = client.status();
        }
        JsonNode status = Json.MAPPER.readTree(document);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.MAPPER.writeValueAsString(status));
        } else {
            JsonNode pool = status.get("pool");
            out.printf("service    pid %d, protocol %d, up %d s, %s%n", status.get("pid").asLong(),
                    status.get("protocol").asInt(), status.get("uptime_seconds").asLong(), status.get("listening").asText());
            out.printf("stock      %s ready of %s target, %s populating, maximum %s, chunks of %s%n",
                    bytes(pool, "ready_bytes"), bytes(pool, "target_bytes"), bytes(pool, "populating_bytes"),
                    bytes(pool, "maximum_bytes"), bytes(pool, "chunk_bytes"));
            out.printf("refill     %s/s over the last 10 s; %d chunks populated, %d of them on demand (cold); %d trimmed%n",
                    bytes(pool, "refill_bytes_per_second"), pool.get("chunks_populated").asLong(), pool.get("cold_chunks").asLong(),
                    pool.path("trimmed_chunks").asLong());
            out.printf("outstanding %s (granted, not yet confirmed gone)%n", bytes(pool, "outstanding_bytes"));
            JsonNode kernel = status.get("kernel_count");
            if (kernel != null) {
                out.printf("counted    %s%n", kernel.get("counting").asBoolean()
                        ? bytes(kernel, "counted_bytes") + " alive by the kernel's count (memory cgroup " + kernel.get("cgroup").asText() + ")"
                        : "NOT COUNTED BY THE KERNEL (" + kernel.get("cgroup").asText() + "): the maximum and quotas rest on a /proc scan");
            }
            for (Map.Entry<String, JsonNode> uid : status.get("outstanding_bytes_by_uid").properties()) {
                out.printf("  uid %-6s %s%n", uid.getKey(), Bytes.format(uid.getValue().asLong()));
            }
            JsonNode clients = status.get("clients");
            JsonNode grants = status.get("grants");
            out.printf("clients    %d connected, %d since start%n", clients.get("connected").asLong(), clients.get("total").asLong());
            out.printf("grants     %d (%s)%n", grants.get("total").asLong(), Bytes.format(grants.get("bytes_total").asLong()));
            StringBuilder refused = new StringBuilder();
            for (Map.Entry<String, JsonNode> code : grants.get("refused").properties()) {
                if (code.getValue().asLong() > 0) {
                    refused.append(refused.isEmpty() ? "" : ", ").append(code.getKey()).append(' ').append(code.getValue().asLong());
                }
            }
            out.printf("refused    %s%n", refused.isEmpty() ? "none" : refused);
        }
        out.flush();
        return 0;
    }

    private static String bytes(JsonNode node, String field) {
        return Bytes.format(node.get(field).asLong());
    }
}
