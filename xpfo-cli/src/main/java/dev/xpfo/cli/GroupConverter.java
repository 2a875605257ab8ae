// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.io.IOException;
import java.nio.file.FileSystems;

/** A group name this system knows (as {@code chown :GROUP} would need it), checked before anything starts. */
final class GroupConverter implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
        try {
            FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(value);
            return value;
        } catch (IOException e) {
            // UserPrincipalNotFoundException, or the group database could not be read.
            throw new TypeConversionException("no such group on this system: '" + value + "'");
        }
    }
}
