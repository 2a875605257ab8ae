// SPDX-License-Identifier: Apache-2.0
/**
 * The Java client of {@code xpfo serve}: connect, ask for memory, get one contiguous mapping of
 * direct-map-free memory between guard pages.
 */
package dev.xpfo.client;
