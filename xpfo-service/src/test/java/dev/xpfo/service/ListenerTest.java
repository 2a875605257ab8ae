// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.handoff.UnixSocket;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.service.testing.Services;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The service's socket path: nothing but a dead socket is ever deleted there, and stopping removes only
 * what starting made.
 */
class ListenerTest {
    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("xpfo.sock");
    }

    @Test
    void aRegularFileAtTheSocketPathIsRefusedAndKept() throws Exception {
        Files.writeString(socket(), "somebody's data");
        assertThatThrownBy(() -> Listener.open(Services.small(dir))).isInstanceOf(XpfoException.class)
                .hasMessageContaining("refusing to listen on " + socket() + ": a regular file is there")
                .hasMessageContaining("pass --socket");
        assertThat(socket()).hasContent("somebody's data");
    }

    @Test
    void anEmptyDirectoryAtTheSocketPathIsRefusedAndKept() throws Exception {
        Files.createDirectory(socket());
        assertThatThrownBy(() -> Listener.open(Services.small(dir))).isInstanceOf(XpfoException.class)
                .hasMessageContaining("a directory is there");
        assertThat(socket()).isEmptyDirectory();
    }

    @Test
    void aSymbolicLinkEvenToADeadSocketIsRefusedAndBothAreKept() throws Exception {
        Path elsewhere = dir.resolve("elsewhere.sock");
        UnixSocket.listen(elsewhere).close(); // a socket file nobody answers on any more
        Files.createSymbolicLink(socket(), elsewhere);
        assertThatThrownBy(() -> Listener.open(Services.small(dir))).isInstanceOf(XpfoException.class)
                .hasMessageContaining("a symbolic link is there");
        assertThat(Files.isSymbolicLink(socket())).isTrue();
        assertThat(elsewhere).exists();
    }

    @Test
    void aSocketNobodyAnswersOnIsReplacedAndRemovedAtStop() {
        UnixSocket.listen(socket()).close();
        assertThat(socket()).exists();
        try (Listener listener = Listener.open(Services.small(dir))) {
            assertThat(UnixSocket.answers(socket())).isTrue();
        }
        assertThat(Files.exists(socket(), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void directoriesTheServiceCreatedAreRemovedAtStopAndOnesThatExistedAreKept() throws Exception {
        Path existing = Files.createDirectory(dir.resolve("existing"));
        ServiceSettings settings = ServiceSettings.defaults(existing.resolve("made/deeper/xpfo.sock"));
        try (Listener listener = Listener.open(settings)) {
            assertThat(existing.resolve("made/deeper")).isDirectory();
        }
        assertThat(existing).isEmptyDirectory();
        assertThat(dir).isDirectory();
    }

    @Test
    void aCreatedDirectorySomebodyFilledMeanwhileIsKept() throws Exception {
        ServiceSettings settings = ServiceSettings.defaults(dir.resolve("made/xpfo.sock"));
        try (Listener listener = Listener.open(settings)) {
            Files.writeString(dir.resolve("made/notes"), "kept");
        }
        assertThat(dir.resolve("made/xpfo.sock")).doesNotExist();
        assertThat(dir.resolve("made/notes")).hasContent("kept");
    }
}
