// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

/**
 * Something on a QEMU command line that cannot run with guest RAM out of the direct map, and that
 * xpfo vm does not rewrite.
 *
 * @param what the argument, as given
 * @param why  what would go wrong
 * @param fix  what to write instead
 */
public record Refusal(String what, String why, String fix) {
    @Override
    public String toString() {
        return what + ": " + why + ". Fix: " + fix;
    }
}
