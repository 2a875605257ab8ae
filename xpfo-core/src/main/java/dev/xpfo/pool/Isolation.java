// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.pool;

/** How well a region of memory is kept from everything but its own process. */
public enum Isolation {
    /**
     * Secret memory ({@code memfd_secret}): removed from the kernel's direct map, so neither the kernel's
     * own reads (a read primitive, a speculative-execution leak through the direct map) nor another
     * process ({@code /proc/PID/mem}, {@code process_vm_readv}, {@code ptrace}) can reach it; also
     * locked (never swapped), left out of core dumps and not inherited by forked children.
     */
    DIRECT_MAP_REMOVED,
    /**
     * Ordinary anonymous memory, {@code mlock}ed (never swapped), {@code MADV_DONTDUMP} and
     * {@code MADV_DONTFORK}: still in the kernel's direct map and readable by root or a same-user process
     * through {@code /proc/PID/mem}. Used only when chosen explicitly on a kernel without secret memory.
     */
    LOCKED_ONLY
}
