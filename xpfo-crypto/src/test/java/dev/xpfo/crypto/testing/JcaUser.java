// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Security;

/**
 * Uses JCA and TLS the way any application does, without XPFO, then says whether this process maps
 * secret memory. Run on a module path with xpfo-crypto (outside the module's packages, so that the class
 * path can hold it).
 */
public final class JcaUser {
    private JcaUser() {
    }

    public static void main(String[] args) throws Exception {
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, null, null);
        SSLEngine engine = tls.createSSLEngine();
        engine.setUseClientMode(true);
        engine.beginHandshake();
        Security.getProvider("SunPKCS11");
        Security.getProvider("XMLDSig");
        System.out.println("providers looked up: " + Security.getProviders().length);
        System.out.println("secret memory mapped: " + Files.readString(Path.of("/proc/self/maps")).contains("/secretmem"));
    }
}
