// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * {@code HOST:PORT} on this machine's loopback ({@code 127.0.0.1:9464}, {@code [::1]:9464},
 * {@code localhost:9464}): a port from 1 to 65535, a host that resolves to a loopback address.
 */
final class HostPortConverter implements ITypeConverter<InetSocketAddress> {
    @Override
    public InetSocketAddress convert(String value) {
        String t = value.trim();
        int colon = t.lastIndexOf(':');
        if (colon <= 0 || colon == t.length() - 1 || (t.indexOf(':') != colon && !t.startsWith("["))) {
            throw new TypeConversionException("not HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464): '" + value + "'");
        }
        String host = t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String portText = t.substring(colon + 1);
        int port;
        try {
            port = portText.matches("[0-9]{1,5}") ? Integer.parseInt(portText) : -1;
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            throw new TypeConversionException("the port must be a number from 1 to 65535, not '" + portText + "' in '"
                    + value + "'");
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new TypeConversionException("unknown host '" + host + "' in '" + value + "'");
        }
        if (!address.isLoopbackAddress()) {
            throw new TypeConversionException("only a loopback address is allowed (127.0.0.1, ::1 or localhost), not '"
                    + host + "' (" + address.getHostAddress() + ")");
        }
        return new InetSocketAddress(address, port);
    }
}
