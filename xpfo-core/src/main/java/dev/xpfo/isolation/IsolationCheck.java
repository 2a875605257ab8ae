// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import dev.xpfo.host.MapsEntry;
import dev.xpfo.host.Smaps;
import dev.xpfo.linux.Libc;
import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.memory.XpfoFile;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Proves on this host, by trying, that secret memory is out of reach of other processes.
 *
 * <p>It populates a secret memory region and writes a random marker at the start of every page, and
 * writes another marker into ordinary anonymous memory as a control. A separate process
 * ({@link ReadAttempts}) then tries to read both through {@code /proc/PID/mem},
 * {@code process_vm_readv} and {@code ptrace(PTRACE_PEEKDATA)}, and scans every readable mapping of
 * this process for both markers. The region is protected only if every read of it is refused and its
 * marker is never found, while the same reads of the control succeed and find the control's marker
 * (otherwise the refusals prove nothing). It also checks the mapping's {@code VmFlags}: locked
 * ({@code lo}), not dumped ({@code dd}), not copied on fork ({@code dc}).
 *
 * <p>The markers are written as the XOR of two random halves computed byte by byte, and only the
 * halves travel to the other process, so a marker exists nowhere in this process but where it was
 * written.
 */
public final class IsolationCheck {
    /** The size checked by default: 1 MiB, 256 pages. */
    public static final long DEFAULT_BYTES = Bytes.MIB;
    private static final int MARKER_BYTES = 32;
    private static final long ATTACK_TIMEOUT_SECONDS = 120;
    private static final List<MappingFlag> REQUIRED_FLAGS = List.of(
            new MappingFlag("lo", "locked: never swapped out", false),
            new MappingFlag("dd", "not included in core dumps", false),
            new MappingFlag("dc", "not copied into forked children (MADV_DONTFORK)", false));

    private final long bytes;
    private final SecureRandom random = new SecureRandom();

    public IsolationCheck(long bytes) {
        this.bytes = bytes;
    }

    /** Runs the check; never throws for a failed protection, only reports it. */
    public CheckReport run() {
        try (XpfoFile file = XpfoFile.create(bytes)) {
            file.populate();
            try (Mapping secret = file.map();
                 Mapping control = Mapping.anonymous(PageSize.BYTES)) {
                byte[][] secretHalves = writeMarker(secret.segment(), PageSize.BYTES);
                byte[][] controlHalves = writeMarker(control.segment(), PageSize.BYTES);
                long resident = secret.residentPages();
                MapsEntry entry = Smaps.find(Path.of("/proc/self/smaps"), secret.segment().address())
                        .orElseThrow(() -> new XpfoException("the secret mapping is missing from /proc/self/smaps"));
                List<MappingFlag> flags = REQUIRED_FLAGS.stream()
                        .map(f -> new MappingFlag(f.flag(), f.meaning(), entry.flags().contains(f.flag())))
                        .toList();
                List<Attempt> attempts = attack(
                        region("secret", secret.segment(), secretHalves),
                        region("control", control.segment(), controlHalves));
                return judge(resident, entry.path(), flags, attempts);
            }
        } catch (XpfoException e) {
            return CheckReport.inconclusive("secret memory could not be set up, so nothing can be protected: "
                    + e.getMessage(), bytes);
        }
    }

    /** Writes {@code half1 ^ half2} at the start of every page without ever holding it in an array. */
    private byte[][] writeMarker(MemorySegment memory, long pageSize) {
        byte[] half1 = new byte[MARKER_BYTES];
        byte[] half2 = new byte[MARKER_BYTES];
        random.nextBytes(half1);
        random.nextBytes(half2);
        for (long page = 0; page < memory.byteSize(); page += pageSize) {
            for (int i = 0; i < MARKER_BYTES; i++) {
                memory.set(JAVA_BYTE, page + i, (byte) (half1[i] ^ half2[i]));
            }
        }
        return new byte[][] {half1, half2};
    }

    private static List<String> region(String name, MemorySegment memory, byte[][] halves) {
        HexFormat hex = HexFormat.of();
        return List.of(name, Long.toHexString(memory.address()), Long.toString(memory.byteSize()),
                hex.formatHex(halves[0]), hex.formatHex(halves[1]));
    }

    private List<Attempt> attack(List<String> secret, List<String> control) {
        List<String> args = new ArrayList<>();
        args.add(Long.toString(ProcessHandle.current().pid()));
        args.addAll(secret);
        args.addAll(control);
        ProcessBuilder builder = new ProcessBuilder(ChildJvm.command(ReadAttempts.class, args)).redirectErrorStream(true);
        Process attacker;
        try {
            attacker = builder.start();
        } catch (IOException e) {
            throw new XpfoException("could not start the reading process: " + e.getMessage(), e);
        }
        // Yama (ptrace_scope 1) lets only ancestors trace; name the attacker explicitly. EINVAL
        // without Yama is fine.
        Libc.prctl(Libc.PR_SET_PTRACER, attacker.pid(), 0, 0, 0);
        List<Attempt> attempts = new ArrayList<>();
        StringBuilder diagnostics = new StringBuilder();
        try (OutputStream go = attacker.getOutputStream();
             BufferedReader lines = new BufferedReader(new InputStreamReader(attacker.getInputStream(), StandardCharsets.UTF_8))) {
            go.write('\n');
            go.flush();
            String line;
            while ((line = lines.readLine()) != null) {
                if (line.startsWith(ReadAttempts.PREFIX + "\t")) {
                    attempts.add(Attempt.parse(line));
                } else {
                    diagnostics.append(line).append('\n');
                }
            }
            if (!attacker.waitFor(ATTACK_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                attacker.destroyForcibly();
                throw new XpfoException("the reading process did not finish in " + ATTACK_TIMEOUT_SECONDS + " s");
            }
        } catch (IOException e) {
            throw new XpfoException("lost the reading process: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            attacker.destroyForcibly();
            throw new XpfoException("interrupted while the reading process ran", e);
        } finally {
            Libc.prctl(Libc.PR_SET_PTRACER, 0, 0, 0, 0);
        }
        if (attacker.exitValue() != 0) {
            throw new XpfoException("the reading process failed (exit " + attacker.exitValue() + "): " + diagnostics.toString().trim());
        }
        return attempts;
    }

    /** The verdict on what was seen; package-private so that the tests can give it a leak no kernel here produces. */
    CheckReport judge(long resident, String smapsName, List<MappingFlag> flags, List<Attempt> attempts) {
        long pages = PageSize.pagesIn(bytes);
        Optional<Attempt> leak = attempts.stream().filter(a -> a.target().equals("secret") && !a.refused()).findFirst();
        Optional<MappingFlag> missing = flags.stream().filter(f -> !f.present()).findFirst();
        Optional<Attempt> blindControl = attempts.stream()
                .filter(a -> a.target().equals("control") && !(a.errno() == 0 && a.markerFound()))
                .findFirst();
        long methods = attempts.stream().filter(a -> a.target().equals("secret")).count();
        Verdict verdict;
        String reason;
        if (leak.isPresent()) {
            Attempt a = leak.get();
            verdict = Verdict.EXPOSED;
            reason = a.method() + " reached the secret region: " + a.detail()
                    + (a.markerFound() ? ", and the marker was found" : "");
        } else if (missing.isPresent()) {
            verdict = Verdict.EXPOSED;
            reason = "the secret mapping lacks VmFlags '" + missing.get().flag() + "' (" + missing.get().meaning() + ")";
        } else if (methods < 4) {
            verdict = Verdict.INCONCLUSIVE;
            reason = "only " + methods + " of 4 read attempts reported back";
        } else if (blindControl.isPresent()) {
            Attempt a = blindControl.get();
            verdict = Verdict.INCONCLUSIVE;
            reason = a.method() + " could not read ordinary memory either (" + a.errnoName() + ": " + a.detail()
                    + "), so its refusal of secret memory proves nothing; run as the same user without a ptrace "
                    + "restriction (kernel.yama.ptrace_scope <= 1) or as root";
        } else if (resident != pages) {
            verdict = Verdict.EXPOSED;
            reason = "populating left " + (pages - resident) + " of " + pages + " pages unallocated";
        } else {
            verdict = Verdict.PROTECTED;
            reason = "every read of the secret region from another process was refused and its marker was never "
                    + "found, while the same reads found the marker in ordinary memory";
        }
        return new CheckReport(verdict, reason, bytes, resident, smapsName, flags, attempts);
    }

    /** The size tried. */
    public long bytes() {
        return bytes;
    }
}
