// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

/** Runs the isolation check as whoever starts it and prints the verdict and reason. */
public final class UnprivilegedCheckChild {
    public static void main(String[] args) {
        CheckReport report = new IsolationCheck(Long.parseLong(args[0])).run();
        System.out.println("verdict " + report.verdict() + ": " + report.reason());
        report.attempts().forEach(a -> System.out.println(a.method() + " " + a.target() + " " + a.errnoName()
                + " found=" + a.markerFound()));
    }
}
