// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** File permission bits in octal, as {@code chmod} takes them: {@code 0600}, {@code 660}; 0000 to 0777. */
final class OctalModeConverter implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
        String t = value.trim();
        if (!t.matches("0?[0-7]{1,3}")) {
            throw new TypeConversionException("not permission bits in octal (0000 to 0777, e.g. 0600 or 0660): '"
                    + value + "'");
        }
        return Integer.parseInt(t, 8);
    }
}
