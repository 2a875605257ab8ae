// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.memory;

import dev.xpfo.host.MemlockLimit;

/**
 * Run as an ordinary user by {@link SecretMemoryConformanceTest}: maps secret memory up to its
 * memlock limit, then twice the hard limit, and prints what happened, one line each.
 */
public final class MemlockChild {
    public static void main(String[] args) {
        MemlockLimit limit = MemlockLimit.current();
        System.out.println("limit " + limit.soft() + " " + limit.hard() + " cap_ipc_lock " + limit.capIpcLock());
        try (XpfoFile file = XpfoFile.create(limit.hard()); Mapping mapping = file.map()) {
            mapping.segment().fill((byte) 7);
            System.out.println("at-limit mapped " + mapping.length());
        } catch (XpfoException e) {
            System.out.println("at-limit refused " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        try (XpfoFile file = XpfoFile.create(2 * limit.hard()); Mapping mapping = file.map()) {
            System.out.println("twice-limit mapped " + mapping.length());
        } catch (MemlockLimitException e) {
            System.out.println("twice-limit refused " + e.getClass().getSimpleName() + " errno " + e.errno()
                    + " requested " + e.requestedBytes() + " limit " + e.limitBytes() + ": " + e.getMessage());
        }
        try (XpfoFile file = XpfoFile.create(2 * limit.hard())) {
            file.populate();
            System.out.println("twice-limit populated");
        } catch (MemlockLimitException e) {
            System.out.println("twice-limit populate refused " + e.getClass().getSimpleName());
        }
    }
}
