// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Bytes this thread has allocated in the Java heap (HotSpot's exact per-thread count,
 * {@code com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes}): to show that a message did
 * not pass through a heap array. Looked up reflectively: the module under test does not read
 * {@code jdk.management}, and reflection assumes readability.
 */
final class HeapAllocations {
    private static final Object BEAN;
    private static final MethodHandle ALLOCATED;

    static {
        try {
            BEAN = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            Class<?> bean = Class.forName("com.sun.management.ThreadMXBean");
            ALLOCATED = MethodHandles.publicLookup().findVirtual(bean, "getCurrentThreadAllocatedBytes", MethodType.methodType(long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private HeapAllocations() {
    }

    /** The running total for the current thread. */
    static long ofThisThread() {
        try {
            return (long) ALLOCATED.invoke(BEAN);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read this thread's allocated bytes", t);
        }
    }
}
