// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

/** What a pool may do when the kernel cannot give {@link Isolation#DIRECT_MAP_REMOVED} memory. */
public enum IsolationPolicy {
    /**
     * The default: direct-map removal or nothing. Creating the pool throws
     * {@link dev.xpfo.memory.SecretMemoryUnavailableException} with the reason and the remedy.
     */
    REQUIRE_DIRECT_MAP_REMOVAL,
    /**
     * Fall back to {@link Isolation#LOCKED_ONLY} memory when secret memory is unavailable. The fallback is
     * announced once per process, loudly, with the reason, and every region and secret reports it.
     */
    ALLOW_LOCKED_ONLY
}
