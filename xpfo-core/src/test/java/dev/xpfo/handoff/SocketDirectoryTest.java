// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.handoff;

import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Who could put a socket in a directory, or swap the directory: every way another user could stand in
 * for a service, each refused, and the places a service really listens (under sticky {@code /tmp}, in
 * a directory of its own) accepted. Run as root, which owns the temporary directory; uid 65534 plays
 * the other user.
 */
class SocketDirectoryTest {
    private static final int ROOT = 0;
    private static final int OTHER = TestJvm.NOBODY;

    @TempDir
    Path dir;

    @BeforeEach
    void asRoot() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: needs root to give directories to another user");
        chmod("0755", dir);
    }

    @Test
    void aPrivateDirectoryUnderStickyTmpIsOnlyItsOwnersAndRoots() throws Exception {
        Path own = directory("own", "0700");
        assertThat(SocketDirectory.othersCouldListenIn(own, ROOT)).isEmpty();
        Path theirs = directory("theirs", "0755");
        Files.setAttribute(theirs, "unix:uid", OTHER);
        assertThat(SocketDirectory.othersCouldListenIn(theirs, OTHER)).as("for its owner").isEmpty();
        assertThat(SocketDirectory.othersCouldListenIn(theirs, ROOT)).get(STRING)
                .contains(theirs + " (owner uid " + OTHER + ", mode 0755) belongs to another user");
    }

    /** What the C client checks too: a service of another user is trusted only in a place root made. */
    @Test
    void aClientTrustsRootAloneAndNoStickyDirectoryOnTheWay() throws Exception {
        int parentMode = (Integer) Files.getAttribute(dir.getParent(), "unix:mode", LinkOption.NOFOLLOW_LINKS);
        assumeTrue((parentMode & 01002) == 01002, "skipped: the temporary directory is not below a sticky one like /tmp");
        Path rootOnly = directory("root-only", "0755");
        assertThat(SocketDirectory.othersCouldListenIn(rootOnly, ROOT)).as("for a service of root's own").isEmpty();
        assertThat(SocketDirectory.othersThanRootCouldListenIn(rootOnly)).get(STRING)
                .isEqualTo(dir.getParent() + " (owner uid 0, mode " + String.format("%04o", parentMode & 07777)
                        + ") is writable by other users");
        Path theirs = directory("theirs", "0755");
        Files.setAttribute(theirs, "unix:uid", OTHER);
        assertThat(SocketDirectory.othersThanRootCouldListenIn(theirs)).get(STRING)
                .contains(theirs + " (owner uid " + OTHER + ", mode 0755) belongs to another user");
        assertThat(SocketDirectory.othersThanRootCouldListenIn(Path.of("/etc"))).as("root's all the way").isEmpty();
    }

    @Test
    void aDirectoryGroupOrOthersMayWriteToIsRefusedEvenIfSticky() throws Exception {
        assertThat(SocketDirectory.othersCouldListenIn(directory("group", "0770"), ROOT)).get(STRING)
                .contains("mode 0770) is writable by its group");
        assertThat(SocketDirectory.othersCouldListenIn(directory("open", "0777"), ROOT)).get(STRING)
                .contains("mode 0777) is writable by other users");
        assertThat(SocketDirectory.othersCouldListenIn(directory("sticky", "1777"), ROOT)).get(STRING)
                .as("anybody may create the socket's name in a sticky directory while it is free")
                .contains("mode 1777) is writable by other users");
    }

    /** The service's own check (Listener) looked at the socket's directory alone, and accepted these. */
    @Test
    void aDirectoryBelowOneOthersMayWriteToIsRefusedUnlessThatOneIsSticky() throws Exception {
        Path open = directory("open", "0777");
        Path below = Files.createDirectory(open.resolve("below"));
        chmod("0700", below);
        assertThat(SocketDirectory.othersCouldListenIn(below, ROOT)).as("they can rename it away and put theirs there")
                .get(STRING).contains(open + " (owner uid 0, mode 0777) is writable by other users and not sticky");
        chmod("1777", open);
        assertThat(SocketDirectory.othersCouldListenIn(below, ROOT)).as("sticky: only root may rename it").isEmpty();
    }

    @Test
    void aDirectoryBelowOneOfAnotherUsersIsRefusedForTheyCanChangeItsMode() throws Exception {
        Path theirs = directory("theirs", "0755");
        Path below = Files.createDirectory(theirs.resolve("below"));
        Files.setAttribute(theirs, "unix:uid", OTHER);
        assertThat(SocketDirectory.othersCouldListenIn(below, ROOT)).get(STRING)
                .contains(theirs + " (owner uid " + OTHER + ", mode 0755) belongs to another user");
    }

    @Test
    void aSymbolicLinkAnywhereOnThePathIsRefused() throws Exception {
        Path real = directory("real", "0700");
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        assertThat(SocketDirectory.othersCouldListenIn(link, ROOT)).get(STRING).isEqualTo(link + " is a symbolic link");
        Path inside = Files.createDirectory(real.resolve("inside"));
        assertThat(SocketDirectory.othersCouldListenIn(link.resolve("inside"), ROOT)).get(STRING)
                .isEqualTo(link + " is a symbolic link");
        assertThat(SocketDirectory.othersCouldListenIn(inside, ROOT)).isEmpty();
    }

    @Test
    void aFileOrAMissingDirectoryIsRefused() throws Exception {
        Path file = Files.createFile(dir.resolve("file"));
        assertThat(SocketDirectory.othersCouldListenIn(file, ROOT)).get(STRING).isEqualTo(file + " is not a directory");
        assertThat(SocketDirectory.othersCouldListenIn(dir.resolve("missing"), ROOT)).get(STRING)
                .contains("cannot be read");
    }

    private Path directory(String name, String mode) throws Exception {
        Path made = Files.createDirectory(dir.resolve(name));
        chmod(mode, made);
        return made;
    }

    /** chmod(1): Java cannot set the sticky bit. */
    private static void chmod(String mode, Path path) throws IOException, InterruptedException {
        Process chmod = new ProcessBuilder("chmod", mode, path.toString()).inheritIO().start();
        assertThat(chmod.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(chmod.exitValue()).isZero();
    }
}
