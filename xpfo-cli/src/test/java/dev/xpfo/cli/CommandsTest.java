// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.xpfo.host.SecretMemorySupport;
import dev.xpfo.service.ServiceSettings;
import dev.xpfo.testing.SecretMemory;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The commands an operator runs first, as a script would read them. */
class CommandsTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void probeJsonHasEveryDocumentedKey() {
        CliRun run = run("probe", "--json");
        JsonNode json = run.json();
        for (String key : List.of("memfd_secret.available", "memfd_secret.reason", "memlock.soft", "memlock.hard",
                "memlock.cap_ipc_lock", "direct_map.bytes_4k", "direct_map.bytes_2m", "direct_map.bytes_1g",
                "direct_map.level2_splits", "core_scheduling.available", "core_scheduling.reason", "kvm.present")) {
            assertThat(json.at("/" + key.replace('.', '/')).isMissingNode()).as(key).isFalse();
        }
        assertThat(json.get("vulnerabilities").isObject()).isTrue();
        boolean available = SecretMemorySupport.probe().available();
        assertThat(json.at("/memfd_secret/available").asBoolean()).isEqualTo(available);
        assertThat(run.exitCode()).isEqualTo(available ? 0 : ProbeCommand.UNAVAILABLE);
        assertThat(json.at("/kvm/present").asBoolean()).isEqualTo(Files.exists(Path.of("/dev/kvm")));
        if (!json.at("/core_scheduling/available").asBoolean()) {
            assertThat(json.at("/core_scheduling/reason").asText()).contains("prctl(PR_SCHED_CORE) failed");
        }
    }

    @Test
    void probeTableSaysWhatIsUnavailableAndWhy() {
        CliRun run = run("probe");
        assertThat(run.out()).contains("memfd_secret").contains("memlock limit").contains("core scheduling")
                .contains("CPU vulnerabilities");
        if (!json("probe", "--json").at("/core_scheduling/available").asBoolean()) {
            assertThat(run.out()).contains("core scheduling      UNAVAILABLE: prctl(PR_SCHED_CORE) failed with");
        }
    }

    @Test
    void checkProvesProtectionAndExitsZero() {
        SecretMemory.assumeAvailable();
        CliRun run = run("check", "--json", "--size", "64K");
        JsonNode json = run.json();
        assertThat(json.get("verdict").asText()).as(run.out()).isEqualTo("protected");
        assertThat(run.exitCode()).isZero();
        assertThat(json.get("attempts")).hasSize(8);
        for (JsonNode attempt : json.get("attempts")) {
            boolean secret = attempt.get("target").asText().equals("secret");
            assertThat(attempt.get("refused").asBoolean()).as(attempt.toString()).isEqualTo(secret);
            assertThat(attempt.get("marker_found").asBoolean()).as(attempt.toString()).isEqualTo(!secret);
        }
        assertThat(json.at("/vm_flags/lo").asBoolean()).isTrue();
        assertThat(json.at("/vm_flags/dd").asBoolean()).isTrue();
        assertThat(json.at("/vm_flags/dc").asBoolean()).isTrue();
    }

    @Test
    void checkPrintsOneLinePerAttemptWithTheErrno() {
        SecretMemory.assumeAvailable();
        CliRun run = run("check", "--size", "64K");
        assertThat(run.exitCode()).as(run.out()).isZero();
        assertThat(run.out())
                .containsPattern("proc_mem +secret +refused EIO")
                .containsPattern("process_vm_readv +secret +refused EFAULT")
                .containsPattern("ptrace_peekdata +secret +refused EIO")
                .containsPattern("scan +secret +marker not found")
                .contains("PROTECTED: ");
    }

    @Test
    void poolWarmsThenTakesWithoutPopulatingAnything() {
        SecretMemory.assumeAvailable();
        CliRun run = run("pool", "--warm", "4M", "--chunk", "1M", "--json");
        assertThat(run.exitCode()).as(run.out()).isZero();
        JsonNode json = run.json();
        assertThat(json.get("isolation").asText()).isEqualTo("DIRECT_MAP_REMOVED");
        assertThat(json.at("/warm/bytes").asLong()).isEqualTo(4 << 20);
        assertThat(json.at("/take/chunks_populated").asLong()).isZero();
        assertThat(json.at("/pool/chunks_populated").asLong()).isEqualTo(4);
        assertThat(json.at("/pool/cold_takes").asLong()).isZero();
        assertThat(json.at("/pool/ready_bytes").asLong()).isEqualTo(4 << 20);
    }

    @Test
    void poolReportsATakeBeyondTheWarmMemoryAsCold() {
        SecretMemory.assumeAvailable();
        CliRun run = run("pool", "--warm", "2M", "--take", "3M", "--chunk", "1M");
        assertThat(run.exitCode()).as(run.out()).isZero();
        assertThat(run.out()).contains("isolation            DIRECT_MAP_REMOVED")
                .contains("1 chunk(s) populated on demand")
                .contains("3 chunks populated, 1 takes, 1 cold, 1 wipes");
    }

    @Test
    void aBadSizeIsAClearUsageError() {
        CliRun run = run("check", "--size", "lots");
        assertThat(run.exitCode()).isNotZero();
        assertThat(run.out()).contains("not a size: 'lots'");
    }

    private static JsonNode json(String... args) {
        return run(args).json();
    }

    @Test
    void serveOptionsChangeOneDefaultEachAndRefuseWhatCannotWork() {
        ServiceSettings small = CommandLine.populateCommand(new ServeCommand(), "--maximum", "128M", "--socket", "/tmp/x.sock")
                .settings();
        assertThat(small.pool().maximumBytes()).isEqualTo(128L << 20);
        assertThat(small.pool().targetBytes()).as("the default target lowered to the maximum").isEqualTo(128L << 20);
        assertThat(small.maxGrantBytes()).isEqualTo(128L << 20);
        ServiceSettings tuned = CommandLine.populateCommand(new ServeCommand(), "--maximum", "1G", "--target", "64M",
                "--chunk", "4M", "--quota", "256M", "--rate", "0", "--socket-mode", "0660").settings();
        assertThat(tuned.pool().targetBytes()).isEqualTo(64L << 20);
        assertThat(tuned.pool().lowBytes()).isEqualTo(32L << 20);
        assertThat(tuned.pool().chunkBytes()).isEqualTo(4L << 20);
        assertThat(tuned.quota()).isEqualTo(new ServiceSettings.Quota(256L << 20, 0));
        assertThat(tuned.socketMode()).isEqualTo(0660);
        assertThatThrownBy(() -> CommandLine.populateCommand(new ServeCommand(), "--maximum", "64M", "--max-grant", "1G")
                .settings()).isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--max-grant 1 GiB is more than --maximum 64 MiB");
    }
}
