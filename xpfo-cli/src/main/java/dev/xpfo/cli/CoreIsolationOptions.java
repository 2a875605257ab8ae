// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.host.CoreScheduling;
import dev.xpfo.host.CpuExposure;
import dev.xpfo.memory.CoreSchedulingUnavailableException;
import dev.xpfo.memory.NativeCallException;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** {@code --core-isolate} and {@code --allow-shared-cores}, for the commands that start a VMM or any program. */
final class CoreIsolationOptions {
    @Option(names = "--core-isolate", description = "Give what is started a core-scheduling cookie of its own "
            + "(prctl PR_SCHED_CORE_CREATE, inherited across fork and exec), so no other task runs on its cores' "
            + "sibling hyperthreads. Refused if the kernel lacks core scheduling.")
    boolean isolate;

    @Option(names = "--allow-shared-cores", description = "With --core-isolate: if the kernel cannot isolate cores, "
            + "say so and start anyway.")
    boolean allowShared;

    /**
     * Creates the cookie for this process, which what it starts inherits.
     *
     * @return false if isolation was asked for, is impossible, and was not waived: start nothing
     */
    boolean apply(String command, PrintWriter err) {
        if (!isolate) {
            return true;
        }
        try {
            CoreScheduling.createCookieForThisProcess();
            err.println("xpfo " + command + ": core scheduling: a cookie of its own; no other task shares its cores' "
                    + "hyperthreads");
            return true;
        } catch (NativeCallException e) {
            if (e instanceof CoreSchedulingUnavailableException unavailable
                    && unavailable.reason() == CoreSchedulingUnavailableException.Reason.NO_SMT) {
                err.println("xpfo " + command + ": core scheduling: " + e.getMessage() + "; starting");
                return true;
            }
            if (allowShared) {
                err.println("xpfo " + command + ": WARNING: NOT core-isolated (--allow-shared-cores): " + e.getMessage());
                return true;
            }
            CpuExposure cpu = CpuExposure.read();
            String smt = cpu.smtActive() ? "SMT is active here, so other tasks can share its cores"
                    : "SMT is not active here (" + cpu.smtControl() + "), so no core is shared now, but nothing "
                    + "guarantees it stays so";
            err.println("xpfo " + command + ": refused --core-isolate, nothing started: " + e.getMessage() + ". " + smt
                    + "; pass --allow-shared-cores to start without core isolation");
            return false;
        } finally {
            err.flush();
        }
    }
}
