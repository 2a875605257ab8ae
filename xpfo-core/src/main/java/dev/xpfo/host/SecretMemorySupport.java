// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import dev.xpfo.linux.Errno;
import dev.xpfo.memory.MemlockLimitException;
import dev.xpfo.memory.Mapping;
import dev.xpfo.memory.NativeCallException;
import dev.xpfo.memory.XpfoException;
import dev.xpfo.memory.XpfoFile;

import java.lang.foreign.ValueLayout;

/**
 * Whether this process can use {@code memfd_secret(2)}, found by doing it: open a file, size it to
 * one page, map it and touch it.
 *
 * @param available true if all of that worked
 * @param errno     the errno of the first refusal, 0 if none
 * @param reason    what worked, or which call failed, why, and the remedy
 */
public record SecretMemorySupport(boolean available, int errno, String reason) {

    /** The errno's symbolic name, such as {@code ENOSYS}; null when nothing was refused. */
    public String errnoName() {
        return errno == 0 ? null : Errno.name(errno);
    }

    /** Tries it now, in this process. */
    public static SecretMemorySupport probe() {
        try (XpfoFile file = XpfoFile.create(1);
             Mapping mapping = file.map()) {
            mapping.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            return new SecretMemorySupport(true, 0,
                    "memfd_secret works: a page was created, mapped and removed from the direct map");
        } catch (MemlockLimitException e) {
            return new SecretMemorySupport(false, Errno.EAGAIN, "memfd_secret works, but this process may not map "
                    + "even one page of it: " + e.getMessage());
        } catch (NativeCallException e) {
            return new SecretMemorySupport(false, e.errno(), e.getMessage());
        } catch (XpfoException e) {
            return new SecretMemorySupport(false, 0, e.getMessage());
        }
    }
}
