// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import java.math.BigDecimal;

/** QEMU's size syntax: a number with an optional K, M, G, T, P or E suffix (powers of 1024). */
final class GuestSize {
    private GuestSize() {
    }

    /**
     * Bytes in {@code text}; a number without a suffix counts in {@code unit} bytes (QEMU reads
     * {@code -m 512} as MiB but {@code size=512} as bytes).
     *
     * @throws IllegalArgumentException if it is not a size, or is negative (QEMU refuses those too)
     */
    static long parse(String text, long unit) {
        String trimmed = text.trim();
        if (trimmed.isEmpty()) {
            throw new IllegalArgumentException("empty size");
        }
        char last = Character.toUpperCase(trimmed.charAt(trimmed.length() - 1));
        int shift = "BKMGTPE".indexOf(last);
        long multiplier = unit;
        String number = trimmed;
        if (Character.isLetter(last)) {
            if (shift < 0) {
                throw new IllegalArgumentException("not a size: " + text);
            }
            multiplier = 1L << (10 * shift);
            number = trimmed.substring(0, trimmed.length() - 1);
        }
        if (number.trim().startsWith("-")) {
            throw new IllegalArgumentException("a size cannot be negative: " + text);
        }
        try {
            return new BigDecimal(number).multiply(BigDecimal.valueOf(multiplier)).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("not a size: " + text, e);
        }
    }
}
