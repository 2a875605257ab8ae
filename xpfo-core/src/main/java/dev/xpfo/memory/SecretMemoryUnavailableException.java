// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

/**
 * {@code memfd_secret(2)} cannot be used in this process, so no memory can be removed from the
 * kernel's direct map. xpfo never falls back to ordinary memory on its own when this happens.
 *
 * <ul>
 *   <li>{@link #errno()} {@code ENOSYS}: the kernel lacks it (older than 5.14, built without
 *       {@code CONFIG_SECRETMEM}, disabled with {@code secretmem.enable=0}, or an architecture that
 *       cannot change its direct map).</li>
 *   <li>{@link #errno()} {@code EPERM}: a seccomp filter (a container runtime's default profile,
 *       systemd's {@code SystemCallFilter=}) blocks the call.</li>
 * </ul>
 */
public final class SecretMemoryUnavailableException extends NativeCallException {
    SecretMemoryUnavailableException(String call, int errno, String explanation, String remedy) {
        super(call, errno, explanation, remedy);
    }

    /** True if a seccomp filter, not the kernel, refused the call. */
    public boolean blockedByFilter() {
        return errno() == dev.xpfo.linux.Errno.EPERM;
    }
}
