// SPDX-License-Identifier: Apache-2.0
/**
 * The xpfo service protocol, version 1: how a process asks {@code xpfo serve} for memory removed from
 * the kernel's direct map and receives it as secret memory files ({@code SCM_RIGHTS}) over a Unix
 * stream socket. {@code docs/protocol.md} is the specification; these types encode and decode it.
 */
package dev.xpfo.protocol;
