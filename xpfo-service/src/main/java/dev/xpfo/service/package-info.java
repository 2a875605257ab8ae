// SPDX-License-Identifier: Apache-2.0
/**
 * {@code xpfo serve}: the userspace form of Lutomirski's {@code /dev/xpfo}. One long-running owner of
 * a warm stock of populated secret memory files grants them to other processes over a Unix socket
 * ({@code SCM_RIGHTS}), with peer credentials, per-user quotas, status and metrics.
 */
package dev.xpfo.service;
