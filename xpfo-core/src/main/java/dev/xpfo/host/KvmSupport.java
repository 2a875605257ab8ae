// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.Libc;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether this host can run KVM guests whose private memory is out of the direct map. KVM cannot use
 * secret memory (it pins guest pages through GUP, which secret memory refuses); the kernel's own path
 * is {@code guest_memfd} with {@code GUEST_MEMFD_FLAG_NO_DIRECT_MAP}.
 *
 * @param present          {@code /dev/kvm} exists
 * @param guestMemfd       {@code KVM_CAP_GUEST_MEMFD} is reported (false if KVM is absent)
 * @param guestMemfdFlags  the flags {@code KVM_CAP_GUEST_MEMFD_FLAGS} reports, -1 if unknown
 * @param detail           what was found, in words
 */
public record KvmSupport(boolean present, boolean guestMemfd, long guestMemfdFlags, String detail) {
    static final int KVM_CAP_GUEST_MEMFD = 234;
    static final int KVM_CAP_GUEST_MEMFD_FLAGS = 244;
    /** {@code GUEST_MEMFD_FLAG_NO_DIRECT_MAP}, as proposed upstream and carried by Firecracker's kernels. */
    public static final long FLAG_NO_DIRECT_MAP = 1L << 2;

    /** True if guest_memfd can be created with its memory removed from the direct map. */
    public boolean noDirectMap() {
        return guestMemfdFlags > 0 && (guestMemfdFlags & FLAG_NO_DIRECT_MAP) != 0;
    }

    public static KvmSupport probe() {
        Path device = Path.of("/dev/kvm");
        if (!Files.exists(device)) {
            return new KvmSupport(false, false, -1, "/dev/kvm does not exist: no KVM on this host");
        }
        int kvm;
        try (Arena arena = Arena.ofConfined()) {
            kvm = Libc.open(arena.allocateFrom(device.toString()), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        }
        if (kvm < 0) {
            return new KvmSupport(true, false, -1, "/dev/kvm exists but cannot be opened: "
                    + Errno.describe(Libc.errno()));
        }
        try {
            // Capabilities of guest_memfd depend on the VM type, so ask a throwaway VM when one can be made.
            int vm = Libc.ioctl(kvm, Libc.KVM_CREATE_VM, 0);
            int target = vm >= 0 ? vm : kvm;
            try {
                boolean gmem = Libc.ioctl(target, Libc.KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) > 0;
                int flags = Libc.ioctl(target, Libc.KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
                long known = flags < 0 ? -1 : flags;
                String detail = !gmem ? "KVM is present without guest_memfd (Linux 6.8+ needed)"
                        : (known & FLAG_NO_DIRECT_MAP) != 0 && known > 0
                        ? "KVM with guest_memfd and GUEST_MEMFD_FLAG_NO_DIRECT_MAP: guest memory can leave the direct map"
                        : "KVM with guest_memfd, but without GUEST_MEMFD_FLAG_NO_DIRECT_MAP (flags 0x"
                        + Long.toHexString(Math.max(known, 0)) + "): KVM guest memory stays in the direct map";
                return new KvmSupport(true, gmem, known, detail);
            } finally {
                if (vm >= 0) {
                    Libc.close(vm);
                }
            }
        } finally {
            Libc.close(kvm);
        }
    }
}
