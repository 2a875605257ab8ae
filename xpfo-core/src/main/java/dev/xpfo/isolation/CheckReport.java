// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import java.util.List;

/**
 * What an {@link IsolationCheck} found.
 *
 * @param verdict        the outcome
 * @param reason         why, in one sentence
 * @param bytes          the size of the secret region tried
 * @param residentPages  pages of it resident after populating ({@code mincore}); -1 if not reached
 * @param smapsName      the secret mapping's name in {@code /proc/self/smaps}
 * @param flags          the {@code VmFlags} it must carry
 * @param attempts       every read attempt, on the secret region and on the ordinary control region
 */
public record CheckReport(Verdict verdict, String reason, long bytes, long residentPages, String smapsName,
                          List<MappingFlag> flags, List<Attempt> attempts) {

    static CheckReport inconclusive(String reason, long bytes) {
        return new CheckReport(Verdict.INCONCLUSIVE, reason, bytes, -1, "", List.of(), List.of());
    }
}
