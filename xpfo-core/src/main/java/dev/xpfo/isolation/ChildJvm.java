// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.isolation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that runs a main class of this library in a new JVM, the same way this JVM runs
 * it: from the module path when xpfo is a named module here, from the class path otherwise, with
 * native access granted to exactly that.
 */
public final class ChildJvm {
    private ChildJvm() {
    }

    /** {@code java [native access] [path] main args...} for {@code main}, small and quick to start. */
    public static List<String> command(Class<?> main, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-XX:+UseSerialGC", "-Xmx64m", "-Xshare:auto"));
        Module module = main.getModule();
        String modulePath = System.getProperty("jdk.module.path", "");
        if (module.isNamed() && !modulePath.isEmpty()) {
            command.add("--enable-native-access=" + module.getName());
            command.add("--illegal-native-access=deny");
            command.addAll(List.of("--module-path", modulePath, "--module", module.getName() + "/" + main.getName()));
        } else {
            command.add("--enable-native-access=ALL-UNNAMED");
            command.add("--illegal-native-access=deny");
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        }
        command.addAll(args);
        return command;
    }
}
