// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xpfo.service.testing.CClient;
import dev.xpfo.service.testing.Services;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The C client, compiled with the system's cc, against the real service. */
class CClientTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void getsWritesAndReleasesAGrantAndReadsStatus() throws Exception {
        try (Service service = Services.started(Services.small(dir))) {
            String socket = dir.resolve("xpfo.sock").toString();
            CClient.Result granted = CClient.example(0, "--socket", socket, "--size", Long.toString(5L << 20), "--marker", "c");
            assertThat(granted.exitCode()).as(granted.output()).isZero();
            assertThat(granted.output()).contains("bytes=6291456 chunks=3");
            assertThat(service.grantsTotal()).isEqualTo(1);
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> service.quotas().outstandingByUid().isEmpty())).isTrue();

            CClient.Result status = CClient.example(0, "--socket", socket, "--status");
            assertThat(status.exitCode()).isZero();
            assertThat(new ObjectMapper().readTree(status.output()).at("/grants/total").asLong()).isEqualTo(1);
        }
    }

    @Test
    void reportsTheServicesRefusalByName() throws Exception {
        try (Service service = Services.started(Services.small(dir).withQuota(new ServiceSettings.Quota(4L << 20, 0)))) {
            CClient.Result refused = CClient.example(0, "--socket", dir.resolve("xpfo.sock").toString(), "--size",
                    Long.toString(6L << 20));
            assertThat(refused.exitCode()).isEqualTo(3);
            assertThat(refused.output()).contains("OVER_QUOTA: uid 0 holds 0 B; 6 MiB more passes its quota of 4 MiB");
        }
    }

    @Test
    void checksTheCallersMemlockLimitBeforeAsking() throws Exception {
        assumeTrue(TestJvm.isRoot(), "skipped: needs root to run the client as another user");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Service service = Services.started(Services.small(dir).withSocketMode(0666))) {
            String socket = dir.resolve("xpfo.sock").toString();
            CClient.Result refused = CClient.example(1L << 20, "--socket", socket, "--size", Long.toString(4L << 20));
            assertThat(refused.exitCode()).as(refused.output()).isEqualTo(2);
            assertThat(refused.output()).contains("exceeds RLIMIT_MEMLOCK (soft limit 1048576 bytes")
                    .contains("LimitMEMLOCK=").contains("CAP_IPC_LOCK");
            assertThat(service.grantsTotal()).as("no grant wasted").isZero();

            CClient.Result granted = CClient.example(8L << 20, "--socket", socket, "--size", Long.toString(4L << 20));
            assertThat(granted.exitCode()).as(granted.output()).isZero();
            assertThat(service.grantsTotal()).isEqualTo(1);
        }
    }
}
