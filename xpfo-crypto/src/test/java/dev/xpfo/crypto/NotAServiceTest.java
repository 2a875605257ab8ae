// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import dev.xpfo.crypto.testing.JcaUser;
import dev.xpfo.testing.Child;
import dev.xpfo.testing.SecretMemory;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A process that has the XPFO provider on its module path but never constructs it gets no secret
 * memory from it: the JDK instantiates every provider a ServiceLoader offers while it looks up the
 * ones configured by name, so offering XPFO as a service would install libcrypto's heap (2 MiB of
 * locked memory) in every JVM that uses JCA or TLS.
 */
class NotAServiceTest {

    @Test
    void jcaAndTlsInAProcessWithTheModuleInstallNothing() throws Exception {
        SecretMemory.assumeAvailable();
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--module-path", System.getProperty("jdk.module.path"), "--add-modules", "dev.xpfo.crypto",
                "--enable-native-access=dev.xpfo.core,dev.xpfo.crypto", "--illegal-native-access=deny",
                "-cp", System.getProperty("xpfo.test.classpath"), JcaUser.class.getName());
        Child.Result run = Child.run(command, Duration.ofSeconds(60));
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("providers looked up").contains("secret memory mapped: false");
    }
}
