// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

/** Joins a memory cgroup of its own if it may, and says what it got (for {@link MemoryCgroupTest}). */
public final class MemoryCgroupChild {
    private MemoryCgroupChild() {
    }

    public static void main(String[] args) {
        try (MemoryCgroup cgroup = MemoryCgroup.join("xpfo-test-child-" + ProcessHandle.current().pid())) {
            System.out.println("counted=" + cgroup.counted() + " origin=" + cgroup.origin());
            System.out.println("why=" + cgroup.why());
        }
    }
}
