// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xpfo.stock.StockStats;
import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Protocol;

/** The STATUS_REPLY document ({@code docs/protocol.md}, "Status"). */
final class ServiceStatus {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ServiceStatus() {
    }

    static String json(Service service) {
        ObjectNode root = JSON.createObjectNode();
        root.put("protocol", Protocol.VERSION);
        root.put("pid", ProcessHandle.current().pid());
        root.put("listening", service.listening());
        root.put("uptime_seconds", service.uptime().toSeconds());
        StockStats stats = service.pool().stats();
        ObjectNode pool = root.putObject("pool");
        pool.put("chunk_bytes", stats.chunkBytes());
        pool.put("ready_bytes", stats.readyBytes());
        pool.put("target_bytes", stats.targetBytes());
        pool.put("maximum_bytes", stats.maximumBytes());
        pool.put("populating_bytes", stats.populatingBytes());
        // "Outstanding": handed out and not yet confirmed gone, the one name for it here and in the metrics.
        pool.put("outstanding_bytes", stats.handedOutBytes());
        pool.put("refill_bytes_per_second", stats.refillBytesPerSecond());
        pool.put("chunks_populated", stats.chunksPopulated());
        pool.put("warmed_chunks", stats.warmedChunks());
        pool.put("cold_chunks", stats.coldChunks());
        pool.put("trimmed_chunks", stats.trimmedChunks());
        ObjectNode kernel = root.putObject("kernel_count");
        kernel.put("counting", service.kernel().counts());
        kernel.put("cgroup", service.kernel().cgroup().description());
        kernel.put("counted_bytes", service.kernel().countNow());
        ObjectNode byUid = root.putObject("outstanding_bytes_by_uid");
        service.quotas().outstandingByUid().forEach((uid, bytes) -> byUid.put(Integer.toString(uid), bytes));
        ObjectNode clients = root.putObject("clients");
        clients.put("connected", service.clients());
        clients.put("total", service.clientsTotal());
        ObjectNode grants = root.putObject("grants");
        grants.put("total", service.grantsTotal());
        grants.put("bytes_total", service.grantedBytesTotal());
        grants.put("still_held", service.holdings().pendingGrants());
        ObjectNode refused = grants.putObject("refused");
        for (ErrorCode code : ErrorCode.values()) {
            refused.put(code.name(), service.refusalsTotal(code));
        }
        ObjectNode quota = root.putObject("quota");
        quota.put("outstanding_bytes_per_uid", service.quotas().limits().outstandingBytes());
        quota.put("requests_per_second_per_uid", service.quotas().limits().requestsPerSecond());
        quota.put("max_grant_bytes", service.settings().maxGrantBytes());
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("status does not serialize", e);
        }
    }
}
