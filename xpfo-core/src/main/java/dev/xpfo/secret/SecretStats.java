// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import dev.xpfo.pool.Isolation;

/**
 * A reading of a {@link SecretStore}'s counters.
 *
 * @param isolation      what the store's memory protects against
 * @param liveSecrets    secrets allocated and not yet destroyed
 * @param bytesInUse     the sizes of live secrets, summed
 * @param slabBytes      pool memory the store has taken for its slots
 * @param allocations    secrets ever allocated
 * @param wipes          secrets wiped on destroy (or by the cleaner)
 * @param canaryFailures destroys that found an overwritten canary
 * @param leakCleanups   secrets never destroyed, wiped by the cleaner after they became unreachable
 */
public record SecretStats(Isolation isolation, long liveSecrets, long bytesInUse, long slabBytes, long allocations,
                          long wipes, long canaryFailures, long leakCleanups) {
}
