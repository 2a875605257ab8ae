// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.memory.Bytes;
import dev.xpfo.memory.InvalidSizeException;
import dev.xpfo.memory.PageSize;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A size option ({@code 4096}, {@code 64K}, {@code 256M}, {@code 2G}): more than zero bytes. */
final class SizeConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        long bytes;
        try {
            bytes = Bytes.parse(value);
        } catch (InvalidSizeException e) {
            throw new TypeConversionException(e.getMessage());
        }
        if (bytes <= 0) {
            throw new TypeConversionException("a size must be more than 0 bytes, not '" + value + "'");
        }
        return bytes;
    }

    /**
     * The chunk size, for {@code xpfo serve} and {@code xpfo pool} alike: a whole number of pages,
     * since a chunk is one secret memory file mapped between guard pages.
     */
    static final class Chunk implements ITypeConverter<Long> {
        static final long PAGE = PageSize.BYTES;

        @Override
        public Long convert(String value) {
            long bytes = new SizeConverter().convert(value);
            if (bytes % PAGE != 0) {
                throw new TypeConversionException("a chunk must be a whole number of " + Bytes.format(PAGE)
                        + " pages (e.g. 64K, 2M), not '" + value + "' (" + bytes + " bytes)");
            }
            return bytes;
        }
    }
}
