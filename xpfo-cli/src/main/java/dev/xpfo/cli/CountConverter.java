// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A count option ({@code --threads}, {@code --max-clients}): a whole number of at least 1. */
final class CountConverter implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
        int count;
        try {
            count = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("not a whole number: '" + value + "'");
        }
        if (count < 1) {
            throw new TypeConversionException("must be at least 1, not " + count);
        }
        return count;
    }
}
