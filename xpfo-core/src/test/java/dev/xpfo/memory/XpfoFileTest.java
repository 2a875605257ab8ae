// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.linux.Errno;
import dev.xpfo.linux.FailureInjection;
import dev.xpfo.linux.Libc;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What a user of {@link XpfoFile} relies on: sizing, populating, mapping, closing, and clear errors. */
class XpfoFileTest {
    private static final long PAGE = PageSize.BYTES;

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void aCreatedFileHasTheRequestedSizeRoundedUpToWholePages() {
        try (XpfoFile file = XpfoFile.create(PAGE + 1)) {
            assertThat(file.size()).isEqualTo(2 * PAGE);
        }
    }

    @Test
    void aFileIsSizedExactlyOnce() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            assertThatThrownBy(() -> file.size(2 * PAGE))
                    .isInstanceOf(AlreadySizedException.class)
                    .hasMessageContaining("already sized to " + PAGE)
                    .hasMessageContaining("exactly one ftruncate");
            assertThatThrownBy(() -> file.size(PAGE)).isInstanceOf(AlreadySizedException.class);
            assertThat(file.size()).isEqualTo(PAGE);
        }
    }

    @Test
    void zeroNegativeAndAbsurdSizesAreRefusedBeforeAnyMemoryIsTaken() {
        assertThatThrownBy(() -> XpfoFile.create(0)).isInstanceOf(InvalidSizeException.class)
                .hasMessageContaining("positive size, not 0");
        assertThatThrownBy(() -> XpfoFile.create(-4096)).isInstanceOf(InvalidSizeException.class)
                .hasMessageContaining("not -4096");
        assertThatThrownBy(() -> XpfoFile.create(Long.MAX_VALUE)).isInstanceOf(InvalidSizeException.class)
                .hasMessageContaining("never swapped").hasMessageContaining("of RAM");
        try (XpfoFile file = XpfoFile.open()) {
            assertThatThrownBy(() -> file.size(1L << 50)).isInstanceOf(InvalidSizeException.class);
            assertThat(file.size()).as("a refused size leaves the file unsized").isZero();
            file.size(PAGE);
            assertThat(file.size()).isEqualTo(PAGE);
        }
    }

    @Test
    void anUnsizedFileCannotBeMapped() {
        try (XpfoFile file = XpfoFile.open()) {
            assertThatThrownBy(file::map).isInstanceOf(XpfoException.class).hasMessageContaining("size the secret memory file");
        }
    }

    @Test
    void everyUseAfterCloseIsRefusedAndCloseIsIdempotent() {
        XpfoFile file = XpfoFile.create(PAGE);
        file.close();
        file.close();
        assertThat(file.isOpen()).isFalse();
        assertThatThrownBy(file::map).isInstanceOf(XpfoClosedException.class);
        assertThatThrownBy(file::fd).isInstanceOf(XpfoClosedException.class);
        assertThatThrownBy(() -> file.size(PAGE)).isInstanceOf(XpfoClosedException.class);
        assertThatThrownBy(file::populate).isInstanceOf(XpfoClosedException.class);
    }

    @Test
    void aClosedMappingsMemoryCannotBeReachedAnyMore() {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            Mapping mapping = file.map();
            MemorySegment memory = mapping.segment();
            memory.set(JAVA_LONG, 0, 42);
            mapping.close();
            mapping.close();
            assertThatThrownBy(() -> memory.get(JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(mapping::segment).isInstanceOf(XpfoClosedException.class);
        }
    }

    @Test
    void theSegmentIsBoundsChecked() {
        try (XpfoFile file = XpfoFile.create(PAGE); Mapping mapping = file.map()) {
            assertThat(mapping.segment().byteSize()).isEqualTo(PAGE);
            assertThatThrownBy(() -> mapping.segment().get(JAVA_BYTE, PAGE)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void aMappingOutlivesItsFileAndTwoMappingsShareTheSamePages() {
        Mapping first;
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            first = file.map();
            try (Mapping second = file.map()) {
                first.segment().set(JAVA_LONG, 8, 0x1122334455667788L);
                assertThat(second.segment().get(JAVA_LONG, 8)).isEqualTo(0x1122334455667788L);
            }
        }
        try (first) {
            assertThat(first.segment().get(JAVA_LONG, 8)).isEqualTo(0x1122334455667788L);
        }
    }

    @Test
    void pagesAreAllocatedLazilyUntilPopulated() {
        try (XpfoFile file = XpfoFile.create(64 * PAGE); Mapping mapping = file.map()) {
            assertThat(mapping.residentPages()).as("secret memory is allocated on first touch").isZero();
            file.populate();
            assertThat(mapping.residentPages()).isEqualTo(64);
        }
    }

    @Test
    void populatingOnSeveralThreadsAllocatesEveryPageAndReportsProgressUpToTheTotal() {
        long bytes = 8 * Bytes.MIB + 3 * PAGE;
        List<long[]> reports = new ArrayList<>();
        try (XpfoFile file = XpfoFile.create(bytes)) {
            file.populate(3, (done, total) -> reports.add(new long[] {done, total}));
            try (Mapping mapping = file.map()) {
                assertThat(mapping.residentPages()).isEqualTo(bytes / PAGE);
            }
        }
        assertThat(reports).isNotEmpty();
        assertThat(reports).allSatisfy(r -> assertThat(r[1]).isEqualTo(bytes));
        for (int i = 1; i < reports.size(); i++) {
            assertThat(reports.get(i)[0]).isGreaterThanOrEqualTo(reports.get(i - 1)[0]);
        }
        assertThat(reports.getLast()[0]).isEqualTo(bytes);
    }

    @Test
    void populatingKeepsWhatTheFileAlreadyHolds() {
        try (XpfoFile file = XpfoFile.create(4 * PAGE); Mapping mapping = file.map()) {
            mapping.segment().set(JAVA_LONG, PAGE, 0xCAFEBABEL);
            file.populate(2, PopulateProgress.NONE);
            assertThat(mapping.segment().get(JAVA_LONG, PAGE)).isEqualTo(0xCAFEBABEL);
        }
    }

    @Test
    void theDescriptorIsCloseOnExec() throws Exception {
        try (XpfoFile file = XpfoFile.create(PAGE)) {
            String fdinfo = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/fdinfo/" + file.fd()));
            long flags = Long.parseLong(dev.xpfo.host.ProcFiles.field(fdinfo, "flags").orElseThrow(), 8);
            assertThat(flags & Libc.O_CLOEXEC).isEqualTo(Libc.O_CLOEXEC);
        }
    }

    @Test
    void adoptTakesASecretMemoryDescriptorAndRefusesAnyOther() throws Exception {
        try (XpfoFile file = XpfoFile.create(2 * PAGE)) {
            XpfoFile adopted = XpfoFile.adopt(file.fd());
            assertThat(adopted.size()).isEqualTo(2 * PAGE);
        }
        int ordinary;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            ordinary = Libc.open(arena.allocateFrom("/proc/self/status"), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        }
        try {
            assertThatThrownBy(() -> XpfoFile.adopt(ordinary)).isInstanceOf(XpfoException.class)
                    .hasMessageContaining("not a secret memory file: refusing it");
        } finally {
            Libc.close(ordinary);
        }
    }

    @Test
    void adoptNeedsNoSecretMemoryOfItsOwnToTellWhatItWasHanded() {
        try (XpfoFile handed = XpfoFile.create(PAGE)) {
            try {
                // As in a client whose seccomp filter refuses memfd_secret: the kernel's fstatfs still answers.
                FailureInjection.failMemfdSecret(Errno.EPERM);
                assertThatThrownBy(XpfoFile::open).isInstanceOf(SecretMemoryUnavailableException.class);
                assertThat(XpfoFile.adopt(handed.fd()).size()).isEqualTo(PAGE);
            } finally {
                FailureInjection.clear();
            }
        }
    }

    @Test
    void adoptRefusesAFileThatOnlyLooksLikeSecretMemoryInProc() throws Exception {
        assumeTrue(TestJvm.isRoot(), "making /secretmem takes root");
        Path decoy = Path.of("/secretmem");
        assumeTrue(!Files.exists(decoy, LinkOption.NOFOLLOW_LINKS), "/secretmem exists on this machine: not ours to touch");
        Files.createFile(decoy); // ours: created here, deleted below
        int fd;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            fd = Libc.open(arena.allocateFrom(decoy.toString()), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } finally {
            Files.delete(decoy);
        }
        try {
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString()).isEqualTo("/secretmem (deleted)");
            assertThatThrownBy(() -> XpfoFile.adopt(fd)).isInstanceOf(XpfoException.class)
                    .hasMessageContaining("not a secret memory file: refusing it");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void unavailabilityIsExplainedWithTheCauseAndTheRemedy() {
        try {
            FailureInjection.failMemfdSecret(Errno.ENOSYS);
            assertThatThrownBy(XpfoFile::open).isInstanceOfSatisfying(SecretMemoryUnavailableException.class,
                            e -> assertThat(e.blockedByFilter()).isFalse())
                    .hasMessageContaining("memfd_secret failed with ENOSYS")
                    .hasMessageContaining("CONFIG_SECRETMEM").hasMessageContaining("secretmem.enable");
            FailureInjection.failMemfdSecret(Errno.EPERM);
            assertThatThrownBy(() -> XpfoFile.create(PageSize.BYTES)).isInstanceOfSatisfying(
                            SecretMemoryUnavailableException.class, e -> assertThat(e.blockedByFilter()).isTrue())
                    .hasMessageContaining("seccomp").hasMessageContaining("syscall 447");
        } finally {
            FailureInjection.clear();
        }
    }
}
