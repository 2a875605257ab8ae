// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The kernel counts secret memory to the cgroup that populated it, until it frees it. */
class MemoryCgroupTest {
    private static final long MIB = 1L << 20;

    @Test
    void aCgroupOfItsOwnCountsWhatThisProcessPopulatesUntilTheKernelFreesIt() throws Exception {
        SecretMemory.assumeAvailable();
        Path before = MemoryCgroup.current().orElse(null);
        try (MemoryCgroup cgroup = MemoryCgroup.join("xpfo-test-" + ProcessHandle.current().pid())) {
            assumeTrue(cgroup.counted(), "skipped: " + cgroup.why());
            Path dir = cgroup.directory().orElseThrow();
            assertThat(MemoryCgroup.current()).contains(dir);
            long start = cgroup.unevictableBytes();
            // The kernel's per-CPU batches: up to 31 pages per CPU not counted yet after populating (LRU
            // add), or still counted after closing (munlock).
            long batches = 31L * Runtime.getRuntime().availableProcessors() * PageSize.BYTES;
            try (XpfoFile file = XpfoFile.create(8 * MIB)) {
                file.populate();
                assertThat(eventually(() -> cgroup.unevictableBytes() >= start + 8 * MIB - batches)).isTrue();
            }
            assertThat(eventually(() -> cgroup.unevictableBytes() <= start + batches)).as("closed: freed, uncharged")
                    .isTrue();
            if (cgroup.origin() == MemoryCgroup.Origin.CREATED) {
                cgroup.close();
                assertThat(dir).doesNotExist();
                assertThat(MemoryCgroup.current().orElse(null)).isEqualTo(before);
            }
        }
    }

    @Test
    void aCgroupThatExistsAlreadyAtTheNameIsNeitherTakenOverNorRemoved() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: making a cgroup takes root");
        Path current = MemoryCgroup.current().orElse(null);
        assumeTrue(current != null, "skipped: no memory cgroup controller");
        String name = "xpfo-test-planted-" + ProcessHandle.current().pid();
        // Someone else's cgroup, empty, at the name the service would have used: it may carry their memory.max.
        Path planted = Files.createDirectory(current.resolve(name));
        try {
            try (MemoryCgroup cgroup = MemoryCgroup.join(name)) {
                assumeTrue(cgroup.origin() != MemoryCgroup.Origin.OWN, "skipped: this process is alone in its cgroup");
                assertThat(cgroup.directory()).as("not the planted cgroup").isNotEqualTo(java.util.Optional.of(planted));
                if (cgroup.counted()) {
                    assertThat(cgroup.origin()).isEqualTo(MemoryCgroup.Origin.CREATED);
                    assertThat(cgroup.directory().orElseThrow().getFileName().toString()).startsWith(name + "-");
                }
            }
            assertThat(planted).as("left alone at close").isDirectory();
        } finally {
            Files.deleteIfExists(planted);
        }
    }

    @Test
    void anOrdinaryUserSharingItsCgroupIsToldNothingIsCountedAndWhy() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: needs root to run the child as another user");
        TestJvm.Result result = TestJvm.runUnprivileged(8L << 20, MemoryCgroupChild.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("counted=false origin=NONE")
                .containsPattern("why=.*(permission denied|no memory cgroup controller)");
    }

    @Test
    void aCgroupPathIsFoundUnderWhereItsHierarchyIsMountedEvenFromAContainersRoot() {
        String mountinfo = """
                31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
                35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
                41 31 0:38 /sub /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
                """;
        assertThat(MemoryCgroup.mounted(mountinfo, "cgroup", "memory", "/process_api/abc"))
                .contains(Path.of("/sys/fs/cgroup/memory/process_api/abc"));
        assertThat(MemoryCgroup.mounted(mountinfo, "cgroup2", null, "/sub/system.slice/xpfo.service"))
                .contains(Path.of("/sys/fs/cgroup/unified/system.slice/xpfo.service"));
        assertThat(MemoryCgroup.mounted(mountinfo, "cgroup2", null, "/elsewhere")).isEmpty();
        assertThat(MemoryCgroup.mounted(mountinfo, "cgroup", "cpu", "/")).isEmpty();
    }

    @Test
    void aNameThatIsNotOneCgroupIsRefused() {
        for (String name : new String[]{"", "a/b", "..", ".hidden"}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> MemoryCgroup.join(name))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(Files.exists(Path.of("/proc/self/cgroup"))).isTrue();
    }

    private static boolean eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }
}
