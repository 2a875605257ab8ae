// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.host.Smaps;
import dev.xpfo.linux.Errno;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import dev.xpfo.testing.SecretMemory;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The self-check a sceptical operator runs first: another process tries to read this JVM's secret
 * memory and must be refused, while reading ordinary memory the same ways works.
 */
class IsolationCheckTest {

    @BeforeEach
    void secretMemory() {
        SecretMemory.assumeAvailable();
    }

    @Test
    void anotherProcessIsRefusedEveryReadOfSecretMemoryAndFindsTheControlMarker() {
        CheckReport report = new IsolationCheck(256 * 1024).run();

        assertThat(report.verdict()).as(report.reason()).isEqualTo(Verdict.PROTECTED);
        assertThat(attempt(report, "proc_mem", "secret").errno()).isEqualTo(Errno.EIO);
        assertThat(attempt(report, "process_vm_readv", "secret").errno()).isEqualTo(Errno.EFAULT);
        assertThat(attempt(report, "ptrace_peekdata", "secret").errno()).isEqualTo(Errno.EIO);
        assertThat(attempt(report, "scan", "secret").markerFound()).isFalse();
        for (String method : List.of("proc_mem", "process_vm_readv", "ptrace_peekdata", "scan")) {
            Attempt control = attempt(report, method, "control");
            assertThat(control.errno()).as(method + " on ordinary memory").isZero();
            assertThat(control.markerFound()).as(method + " finds the control marker").isTrue();
            assertThat(attempt(report, method, "secret").refused()).as(method).isTrue();
        }
        assertThat(report.residentPages()).isEqualTo(256 * 1024 / PageSize.BYTES);
        assertThat(report.smapsName()).startsWith("/secretmem");
    }

    @Test
    void anOrdinaryUserGetsTheSameProtectionAgainstItsOwnOtherProcesses() throws Exception {
        TestJvm.Result result = TestJvm.runUnprivileged(8 * 1024 * 1024, UnprivilegedCheckChild.class, "1048576");
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("verdict PROTECTED")
                .contains("proc_mem secret EIO found=false")
                .contains("process_vm_readv secret EFAULT found=false")
                .contains("ptrace_peekdata secret EIO found=false")
                .contains("proc_mem control - found=true");
    }

    @Test
    void withoutUsableSecretMemoryTheCheckIsInconclusiveAndSaysWhy() throws Exception {
        // An ordinary user with no memlock allowance cannot map a single secret page.
        TestJvm.Result result = TestJvm.runUnprivileged(0, UnprivilegedCheckChild.class, "1048576");
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("verdict INCONCLUSIVE: secret memory could not be set up")
                .contains("mmap failed with EAGAIN").contains("RLIMIT_MEMLOCK").contains("ulimit -l");
    }

    @Test
    void theSecretMappingIsLockedNotDumpedAndNotCopiedOnFork() {
        CheckReport report = new IsolationCheck(PageSize.BYTES).run();
        assertThat(report.flags()).extracting(MappingFlag::flag).containsExactly("lo", "dd", "dc");
        assertThat(report.flags()).allSatisfy(flag -> assertThat(flag.present()).as(flag.meaning()).isTrue());
    }

    @Test
    void smapsFlagsAreReadForTheExactMapping() {
        try (XpfoFile file = XpfoFile.create(PageSize.BYTES); Mapping secret = file.map();
             Mapping ordinary = Mapping.anonymous(PageSize.BYTES)) {
            secret.segment().set(JAVA_LONG, 0, 1);
            ordinary.segment().set(JAVA_LONG, 0, 1);
            Path smaps = Path.of("/proc/self/smaps");
            assertThat(Smaps.find(smaps, secret.segment().address()).orElseThrow().flags())
                    .contains("lo", "dd", "dc", "sh");
            assertThat(Smaps.find(smaps, ordinary.segment().address()).orElseThrow().flags())
                    .as("ordinary memory carries none of them, so the check can fail")
                    .doesNotContain("lo", "dd", "dc");
        }
    }

    @Test
    void aReadThatSucceedsOnSecretMemoryMakesTheVerdictExposed() {
        // Everything else as on a protected host: all flags set, every page resident, the control read by all four.
        IsolationCheck check = new IsolationCheck(4 * PageSize.BYTES);
        List<MappingFlag> flags = List.of(new MappingFlag("lo", "locked", true), new MappingFlag("dd", "not dumped", true),
                new MappingFlag("dc", "not copied on fork", true));
        List<Attempt> refusedEverywhere = attempts(new Attempt("proc_mem", "secret", Errno.EIO, 0, false, "refused"));
        List<Attempt> oneRead = attempts(new Attempt("proc_mem", "secret", 0, PageSize.BYTES, false,
                "pread returned " + PageSize.BYTES + " bytes"));
        List<Attempt> markerFound = attempts(new Attempt("scan", "secret", 0, 1 << 20, true, "found in [heap]"));

        assertThat(check.judge(4, "/secretmem (deleted)", flags, refusedEverywhere).verdict())
                .as("the same report without the leak").isEqualTo(Verdict.PROTECTED);
        CheckReport read = check.judge(4, "/secretmem (deleted)", flags, oneRead);
        assertThat(read.verdict()).isEqualTo(Verdict.EXPOSED);
        assertThat(read.verdict().exitCode()).isEqualTo(1);
        assertThat(read.reason()).startsWith("proc_mem reached the secret region: pread returned");
        CheckReport scan = check.judge(4, "/secretmem (deleted)", flags, markerFound);
        assertThat(scan.verdict()).isEqualTo(Verdict.EXPOSED);
        assertThat(scan.reason()).startsWith("scan reached the secret region").endsWith("and the marker was found");
    }

    /** All four methods on both regions: refused on the secret one and finding the marker in the control, but {@code secret}. */
    private static List<Attempt> attempts(Attempt secret) {
        List<Attempt> all = new java.util.ArrayList<>();
        for (String method : List.of("proc_mem", "process_vm_readv", "ptrace_peekdata", "scan")) {
            all.add(method.equals(secret.method()) ? secret
                    : new Attempt(method, "secret", method.equals("scan") ? 0 : Errno.EFAULT, 0, false, "refused"));
            all.add(new Attempt(method, "control", 0, PageSize.BYTES, true, "read"));
        }
        return all;
    }

    private static Attempt attempt(CheckReport report, String method, String target) {
        return report.attempts().stream()
                .filter(a -> a.method().equals(method) && a.target().equals(target))
                .findFirst().orElseThrow(() -> new AssertionError("no " + method + " attempt on " + target));
    }
}
