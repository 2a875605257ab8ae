// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A duration in seconds ({@code 10}, {@code 0.5}): finite, not negative, at most a year. */
final class SecondsConverter implements ITypeConverter<Double> {
    static final double YEAR = 365 * 24 * 3600.0;

    @Override
    public Double convert(String value) {
        return NumberParsing.parse(value, "a number of seconds", YEAR);
    }

    /** A rate per second ({@code --rate 1000}; 0 for no limit): finite, not negative. */
    static final class PerSecond implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            return NumberParsing.parse(value, "a number per second", 1e12);
        }
    }

    /** Shared by both: a plain decimal number (no hex, no NaN or Infinity) in [0, max]. */
    private static final class NumberParsing {
        static double parse(String value, String what, double max) {
            String t = value.trim();
            if (!t.matches("[0-9]+(\\.[0-9]*)?|\\.[0-9]+|-[0-9.]+")) {
                throw new TypeConversionException("not " + what + ": '" + value + "'");
            }
            double number = Double.parseDouble(t);
            if (number < 0) {
                throw new TypeConversionException("must not be negative, not " + value);
            }
            if (number > max) {
                throw new TypeConversionException("must be at most " + (long) max + ", not " + value);
            }
            return number;
        }
    }
}
