// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Libc;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.NativeErrors;
import dev.xpfo.memory.XpfoException;

/**
 * The kernel's "dumpable" attribute of this process ({@code prctl(PR_SET_DUMPABLE)}). Cleared, the
 * kernel refuses every ptrace-mode access by processes without {@code CAP_SYS_PTRACE}, even of the same
 * user: {@code ptrace} attach, {@code pidfd_getfd(2)} (so nobody copies the descriptors this process
 * holds), {@code /proc/PID/mem}, {@code /proc/PID/fd}, {@code process_vm_readv}; and it writes no core
 * dump. Root (or {@code CAP_SYS_PTRACE}) still can, unless Yama's {@code kernel.yama.ptrace_scope} is 3.
 *
 * <p>Side effect: the files of {@code /proc/PID} then belong to root, so this process's user id must come
 * from {@link Libc#geteuid()}, never from the owner of {@code /proc/self}.
 */
public final class DumpableFlag {
    private DumpableFlag() {
    }

    /**
     * Clears the flag for this process, then asks the kernel whether it is clear; it stays clear until
     * this process calls {@code execve} or changes its credentials.
     *
     * @throws NativeCallException if the kernel refuses (EINVAL: no such option)
     * @throws XpfoException       if the kernel still reports the process dumpable
     *                             (either way the caller must not go on as if its descriptors were protected)
     */
    public static void clearForThisProcess() {
        if (Libc.prctl(Libc.PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
            throw NativeErrors.call("prctl(PR_SET_DUMPABLE, 0)", Libc.errno(),
                    "the kernel refused to make this process non-dumpable, so any process of the same user could "
                            + "ptrace it and copy its descriptors with pidfd_getfd(2)");
        }
        if (thisProcessIsDumpable()) {
            throw new XpfoException("prctl(PR_GET_DUMPABLE) still reports this process dumpable after "
                    + "prctl(PR_SET_DUMPABLE, 0) succeeded: its descriptors are not protected from its own user");
        }
    }

    /** What the kernel reports now ({@code prctl(PR_GET_DUMPABLE)}): false only if the flag is clear. */
    public static boolean thisProcessIsDumpable() {
        int value = Libc.prctl(Libc.PR_GET_DUMPABLE, 0, 0, 0, 0);
        if (value < 0) {
            int errno = Libc.errno();
            throw NativeErrors.call("prctl(PR_GET_DUMPABLE)", errno, "the kernel did not say");
        }
        return value != 0;
    }
}
