// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Errno;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one errno map: which failures get a type of their own, and that every message still names the
 * call, the errno and the remedy.
 */
class NativeErrorsTest {

    @Test
    void aSocketWhosePeerHungUpIsPeerGoneForEachWayTheKernelSaysSo() {
        for (int errno : new int[] {Errno.EPIPE, Errno.ECONNRESET, Errno.ENOTCONN}) {
            NativeCallException e = NativeErrors.socket("sendmsg", errno, "could not send 12 bytes");
            assertThat(e).as(Errno.name(errno)).isExactlyInstanceOf(PeerGoneException.class);
            assertThat(e.call()).isEqualTo("sendmsg");
            assertThat(e.errno()).isEqualTo(errno);
            assertThat(e.getMessage()).startsWith("sendmsg failed with " + Errno.describe(errno) + ": could not send 12 bytes")
                    .contains("Remedy: ").contains("closed its end");
        }
        assertThat(NativeErrors.socket("recvmsg", Errno.ECONNRESET, "could not receive"))
                .isExactlyInstanceOf(PeerGoneException.class);
    }

    @Test
    void aSocketTimeoutIsCallTimedOut() {
        NativeCallException e = NativeErrors.socket("recvmsg", Errno.EAGAIN, "could not receive");
        assertThat(e).isExactlyInstanceOf(CallTimedOutException.class);
        assertThat(e.getMessage()).startsWith("recvmsg failed with EAGAIN (Resource temporarily unavailable)")
                .contains("Remedy: ").contains("timeout");
    }

    @Test
    void nothingListeningIsItsOwnTypeOnlyForConnect() {
        for (int errno : new int[] {Errno.ENOENT, Errno.ECONNREFUSED}) {
            NativeCallException e = NativeErrors.socket("connect", errno, "could not connect to /run/x.sock");
            assertThat(e).as(Errno.name(errno)).isExactlyInstanceOf(NotListeningException.class);
            assertThat(e.getMessage()).startsWith("connect failed with " + Errno.describe(errno))
                    .contains("Remedy: start the process that should listen there");
        }
        assertThat(NativeErrors.socket("bind", Errno.ENOENT, "could not bind /nowhere/x.sock"))
                .isExactlyInstanceOf(NativeCallException.class);
    }

    @Test
    void coreSchedulingMissingFromTheKernelOrWithoutSmtIsUnavailableWithItsReason() {
        NativeCallException notBuilt = NativeErrors.coreScheduling("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE)", Errno.EINVAL);
        assertThat(notBuilt).isInstanceOfSatisfying(CoreSchedulingUnavailableException.class,
                e -> assertThat(e.reason()).isEqualTo(CoreSchedulingUnavailableException.Reason.NOT_IN_KERNEL));
        assertThat(notBuilt.getMessage()).startsWith("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE) failed with EINVAL")
                .contains("CONFIG_SCHED_CORE").contains("Remedy: boot a kernel with CONFIG_SCHED_CORE=y");
        NativeCallException noSmt = NativeErrors.coreScheduling("prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE)", Errno.ENODEV);
        assertThat(noSmt).isInstanceOfSatisfying(CoreSchedulingUnavailableException.class,
                e -> assertThat(e.reason()).isEqualTo(CoreSchedulingUnavailableException.Reason.NO_SMT));
        assertThat(NativeErrors.coreScheduling("prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, 1)", Errno.EPERM))
                .isExactlyInstanceOf(NativeCallException.class);
    }

    @Test
    void otherSocketFailuresStayPlainNativeCallExceptions() {
        NativeCallException e = NativeErrors.socket("bind", Errno.EADDRINUSE, "could not bind /run/x.sock");
        assertThat(e).isExactlyInstanceOf(NativeCallException.class);
        assertThat(e.getMessage()).isEqualTo("bind failed with EADDRINUSE (Address already in use): could not bind /run/x.sock");
    }

    @Test
    void theServiceUnreachableGetsTheServicesRemedies() {
        Path socket = Path.of("/run/xpfo/xpfo.sock");
        NativeCallException missing = NativeErrors.serviceUnreachable(socket, Errno.ENOENT);
        assertThat(missing).isExactlyInstanceOf(NotListeningException.class);
        assertThat(missing.getMessage()).isEqualTo("connect failed with ENOENT (No such file or directory): could not "
                + "reach the xpfo service at /run/xpfo/xpfo.sock. Remedy: start it with `xpfo serve`, or pass the "
                + "socket it prints");
        NativeCallException denied = NativeErrors.serviceUnreachable(socket, Errno.EACCES);
        assertThat(denied).isExactlyInstanceOf(NativeCallException.class);
        assertThat(denied.remedy()).contains("--socket-group");
    }

    @Test
    void aMappingOverTheMemlockLimitIsMemlockLimitNamingTheCallAndErrno() {
        NativeCallException e = NativeErrors.mapping("mmap", Errno.EAGAIN, 64 * Bytes.MIB, "could not map 64 MiB");
        assertThat(e).isExactlyInstanceOf(MemlockLimitException.class);
        assertThat(((MemlockLimitException) e).requestedBytes()).isEqualTo(64 * Bytes.MIB);
        assertThat(e.getMessage()).startsWith("mmap failed with EAGAIN (Resource temporarily unavailable)")
                .contains("RLIMIT_MEMLOCK").contains("Remedy: raise the limit").contains("ulimit -l");
        assertThat(NativeErrors.mapping("mremap", Errno.EAGAIN, Bytes.MIB, "could not move").call()).isEqualTo("mremap");
    }

    @Test
    void aMappingOutOfAddressSpaceSaysWhichLimitsToRaise() {
        NativeCallException e = NativeErrors.mapping("mmap", Errno.ENOMEM, Bytes.MIB, "could not map 1 MiB");
        assertThat(e).isExactlyInstanceOf(NativeCallException.class);
        assertThat(e.getMessage()).startsWith("mmap failed with ENOMEM (Cannot allocate memory): could not map 1 MiB")
                .contains("Remedy: raise vm.max_map_count").contains("ulimit -v");
    }

    @Test
    void lockingRefusedByTheLimitIsMemlockLimitForEachErrnoMlockUses() {
        for (int errno : new int[] {Errno.EAGAIN, Errno.ENOMEM, Errno.EPERM}) {
            NativeCallException e = NativeErrors.locking(errno, Bytes.MIB, "could not lock 1 MiB");
            assertThat(e).as(Errno.name(errno)).isExactlyInstanceOf(MemlockLimitException.class);
            assertThat(e.getMessage()).startsWith("mlock failed with " + Errno.describe(errno)).contains("ulimit -l");
        }
        assertThat(NativeErrors.locking(Errno.EINVAL, Bytes.MIB, "could not lock 1 MiB"))
                .isExactlyInstanceOf(NativeCallException.class);
    }

    @Test
    void secretMemoryTheKernelLacksOrAFilterBlocksIsUnavailable() {
        NativeCallException missing = NativeErrors.secretMemoryFile(Errno.ENOSYS);
        assertThat(missing).isExactlyInstanceOf(SecretMemoryUnavailableException.class);
        assertThat(missing.getMessage()).startsWith("memfd_secret failed with ENOSYS").contains("Remedy: use Linux 5.14");
        NativeCallException filtered = NativeErrors.secretMemoryFile(Errno.EPERM);
        assertThat(((SecretMemoryUnavailableException) filtered).blockedByFilter()).isTrue();
        assertThat(filtered.getMessage()).contains("seccomp").contains("Remedy: allow syscall 447");
        NativeCallException descriptors = NativeErrors.secretMemoryFile(Errno.EMFILE);
        assertThat(descriptors).isExactlyInstanceOf(NativeCallException.class);
        assertThat(descriptors.getMessage()).startsWith("memfd_secret failed with EMFILE").contains("Remedy: raise the "
                + "descriptor limit (ulimit -n)");
    }

    @Test
    void aSecondSizingOfASecretMemoryFileIsAlreadySized() {
        assertThat(NativeErrors.secretMemorySize(Errno.EINVAL, 8192)).isExactlyInstanceOf(AlreadySizedException.class)
                .hasMessageContaining("resized to 8192");
        assertThat(NativeErrors.secretMemorySize(Errno.EFBIG, 8192)).isExactlyInstanceOf(NativeCallException.class)
                .hasMessageStartingWith("ftruncate failed with EFBIG");
    }

    @Test
    void anyOtherCallKeepsTheOwnersRemedyAndFallsBackToTheErrnosOwn() {
        assertThat(NativeErrors.call("prctl(PR_SET_DUMPABLE, 0)", Errno.EINVAL, "refused", "run on Linux").getMessage())
                .isEqualTo("prctl(PR_SET_DUMPABLE, 0) failed with EINVAL (Invalid argument): refused. Remedy: run on Linux");
        assertThat(NativeErrors.call("accept4", Errno.ENFILE, "could not accept").remedy()).contains("fs.file-max");
        assertThat(NativeErrors.call("mincore", Errno.EFAULT, "could not read residency").remedy()).isEmpty();
    }
}
