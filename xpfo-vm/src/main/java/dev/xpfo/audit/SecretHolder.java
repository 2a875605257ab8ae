// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.audit;

/**
 * A process, other than a VMM, that holds secret memory.
 *
 * @param pid        the process
 * @param uid        its owner
 * @param executable its executable's name
 * @param files      secret memory files it holds
 * @param bytes      their size, each file once
 * @param mapped     bytes of them it has mapped (the rest is only open, like a service's stock)
 */
public record SecretHolder(long pid, int uid, String executable, int files, long bytes, long mapped) {
}
