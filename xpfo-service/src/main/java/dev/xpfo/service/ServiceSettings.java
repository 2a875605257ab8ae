// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.stock.StockSettings;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Everything {@code xpfo serve} can be told; {@link #defaults()} is what it runs with when told nothing.
 *
 * @param socket          where to listen (ignored under systemd socket activation)
 * @param socketMode      permission bits of the socket file, e.g. {@code 0600} (owner only)
 * @param socketGroup     group to give the socket file, or empty to keep the service's
 * @param pool            chunk size, ready target, maximum, populate threads
 * @param maxGrantBytes   the largest single grant
 * @param quota           per-user limits
 * @param coldDeadline    how long a grant may wait for chunks populated on demand
 * @param frameTimeout    how long a peer may take to finish a frame it started
 * @param maxClients      connections served at once; more are refused with BUSY
 * @param maxClientsPerUid connections of one uid served at once, well below {@code maxClients} so a few
 *                        users cannot take every slot (a connection holding grants counts here for as long
 *                        as it holds them)
 * @param idleTimeout     how long a connection that holds no grant may go without making or releasing one
 *                        (other requests, such as STATUS, do not count)
 *                        before the service closes it; a connection holding grants is never closed for
 *                        being idle (closing it would not free their memory, only the client's way to
 *                        release it)
 * @param metrics         loopback address for the Prometheus endpoint, or empty for none
 */
public record ServiceSettings(Path socket, int socketMode, Optional<String> socketGroup, StockSettings pool,
                              long maxGrantBytes, Quota quota, Duration coldDeadline, Duration frameTimeout,
                              int maxClients, int maxClientsPerUid, Duration idleTimeout,
                              Optional<InetSocketAddress> metrics) {

    public ServiceSettings {
        if (maxGrantBytes <= 0 || maxGrantBytes > pool.maximumBytes()) {
            throw new InvalidSizeException("the largest grant must be 1 byte to the maximum ("
                    + Bytes.format(pool.maximumBytes()) + "), not " + Bytes.format(maxGrantBytes));
        }
        if (maxClients < 1 || maxClientsPerUid < 1 || (socketMode & ~0777) != 0) {
            throw new IllegalArgumentException("connection limits must be positive and the socket mode 0000-0777");
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("the idle timeout must be positive, not " + idleTimeout);
        }
    }

    /**
     * Per-user limits, keyed by the peer's uid from {@code SO_PEERCRED}.
     *
     * @param outstandingBytes  granted and not released, per user
     * @param requestsPerSecond requests per user per second (a token bucket holding one second's worth);
     *                          0 for no limit
     */
    public record Quota(long outstandingBytes, double requestsPerSecond) {
    }

    public static ServiceSettings defaults(Path socket) {
        StockSettings pool = StockSettings.defaults();
        return new ServiceSettings(socket, 0600, Optional.empty(), pool, pool.maximumBytes(),
                new Quota(pool.maximumBytes(), 1000), Duration.ofSeconds(10), Duration.ofSeconds(5), 256, 32,
                Duration.ofSeconds(60), Optional.empty());
    }

    public ServiceSettings withQuota(Quota limits) {
        return new ServiceSettings(socket, socketMode, socketGroup, pool, maxGrantBytes, limits, coldDeadline, frameTimeout,
                maxClients, maxClientsPerUid, idleTimeout, metrics);
    }

    public ServiceSettings withSocketMode(int mode) {
        return new ServiceSettings(socket, mode, socketGroup, pool, maxGrantBytes, quota, coldDeadline, frameTimeout,
                maxClients, maxClientsPerUid, idleTimeout, metrics);
    }

    public ServiceSettings withLimits(long maxGrant, Duration cold, Duration frame, int clients) {
        return new ServiceSettings(socket, socketMode, socketGroup, pool, maxGrant, quota, cold, frame, clients, clients,
                idleTimeout, metrics);
    }

    /** Connections served at once, in all and of one uid. */
    public ServiceSettings withClients(int clients, int perUid) {
        return new ServiceSettings(socket, socketMode, socketGroup, pool, maxGrantBytes, quota, coldDeadline, frameTimeout,
                clients, perUid, idleTimeout, metrics);
    }

    public ServiceSettings withIdleTimeout(Duration timeout) {
        return new ServiceSettings(socket, socketMode, socketGroup, pool, maxGrantBytes, quota, coldDeadline, frameTimeout,
                maxClients, maxClientsPerUid, timeout, metrics);
    }

    public ServiceSettings withMetrics(InetSocketAddress address) {
        return new ServiceSettings(socket, socketMode, socketGroup, pool, maxGrantBytes, quota, coldDeadline, frameTimeout,
                maxClients, maxClientsPerUid, idleTimeout, Optional.of(address));
    }

    public ServiceSettings withPool(StockSettings settings) {
        return new ServiceSettings(socket, socketMode, socketGroup, settings, Math.min(maxGrantBytes, settings.maximumBytes()),
                new Quota(Math.min(quota.outstandingBytes, settings.maximumBytes()), quota.requestsPerSecond),
                coldDeadline, frameTimeout, maxClients, maxClientsPerUid, idleTimeout, metrics);
    }
}
