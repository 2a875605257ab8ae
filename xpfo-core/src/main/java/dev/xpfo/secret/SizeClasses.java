// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

/**
 * The slot sizes small secrets are rounded up to: powers of two from 16 bytes to 16 KiB. Each slot
 * also holds a front and a back canary of 8 bytes, so a class's stride is its capacity plus 16.
 */
final class SizeClasses {
    static final int SMALLEST = 16;
    static final int LARGEST = 16 * 1024;
    static final int COUNT = Integer.numberOfTrailingZeros(LARGEST) - Integer.numberOfTrailingZeros(SMALLEST) + 1;
    static final int CANARY_BYTES = 8;

    private SizeClasses() {
    }

    /** The class that holds {@code size} bytes, 1 <= size <= {@link #LARGEST}. */
    static int of(int size) {
        int capacity = Math.max(SMALLEST, Integer.highestOneBit(size - 1) << 1);
        return Integer.numberOfTrailingZeros(capacity) - Integer.numberOfTrailingZeros(SMALLEST);
    }

    static int capacity(int sizeClass) {
        return SMALLEST << sizeClass;
    }

    /** Bytes from one slot to the next: front canary, capacity, room for the back canary. */
    static long stride(int sizeClass) {
        return capacity(sizeClass) + 2L * CANARY_BYTES;
    }
}
