// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A QEMU command line as options in order: the executable, then {@code -name [argument]} pairs and
 * bare disk images. Which options take an argument follows QEMU's own table (qemu-options.hx):
 * every option takes one except the flags listed here, so an argument that merely looks like an
 * option value ({@code -append "... cache=none"}) is never mistaken for one.
 *
 * @param executable the QEMU binary as given
 * @param arguments  everything after it
 */
public record QemuCommandLine(String executable, List<Argument> arguments) {
    /** QEMU 7.x options without an argument. */
    private static final Set<String> FLAGS = Set.of("h", "help", "version", "S", "snapshot", "nographic", "sdl",
            "portrait", "async-teardown", "perfmap", "jitdump", "xen-domid-restrict", "no-kvm", "no-kvm-irqchip",
            "no-kvm-pit-reinjection", "no-kvm-pit", "enable-nesting", "kernel-kqemu", "no-kqemu",
            "enable-kvm", "xen-attach", "no-reboot", "no-shutdown", "daemonize", "mem-prealloc", "nodefaults",
            "no-user-config", "no-hpet", "no-acpi", "no-fd-bootchk", "win2k-hack", "full-screen", "alt-grab",
            "ctrl-grab", "no-quit", "preconfig", "s", "singlestep", "only-migratable", "enable-fips", "semihosting",
            "usb", "old-param", "rtc-td-hack", "no-frame", "enable-sync-profile", "no-graphic", "curses", "audio-help");

    /**
     * One element of the command line.
     *
     * @param option the option's name without dashes ({@code "m"}, {@code "drive"}); null for a bare
     *               disk image
     * @param value  its argument; null for a flag
     */
    public record Argument(String option, String value) {
        List<String> words() {
            if (option == null) {
                return List.of(value);
            }
            return value == null ? List.of("-" + option) : List.of("-" + option, value);
        }
    }

    public QemuCommandLine {
        arguments = List.copyOf(arguments);
    }

    /** Parses {@code words}, the first being the executable. {@code --name} is read as {@code -name}. */
    public static QemuCommandLine parse(List<String> words) {
        if (words.isEmpty()) {
            throw new IllegalArgumentException("no QEMU command given: xpfo vm -- qemu-system-x86_64 ...");
        }
        List<Argument> arguments = new ArrayList<>();
        for (int i = 1; i < words.size(); i++) {
            String word = words.get(i);
            if (!word.startsWith("-") || word.equals("-")) {
                arguments.add(new Argument(null, word));
                continue;
            }
            String name = word.startsWith("--") ? word.substring(2) : word.substring(1);
            if (FLAGS.contains(name)) {
                arguments.add(new Argument(name, null));
            } else if (i + 1 < words.size()) {
                arguments.add(new Argument(name, words.get(++i)));
            } else {
                throw new IllegalArgumentException("QEMU option " + word + " needs an argument");
            }
        }
        return new QemuCommandLine(words.getFirst(), arguments);
    }

    /** The executable's file name ({@code qemu-system-x86_64}). */
    public String executableName() {
        int slash = executable.lastIndexOf('/');
        return executable.substring(slash + 1);
    }

    /** True if the flag or option {@code name} (or one of its aliases) is present. */
    boolean has(String... names) {
        return !values(names).isEmpty() || arguments.stream()
                .anyMatch(a -> a.option() != null && a.value() == null && List.of(names).contains(a.option()));
    }

    /** The arguments of every occurrence of the options {@code names}, in order. */
    List<String> values(String... names) {
        List<String> found = new ArrayList<>();
        for (Argument argument : arguments) {
            if (argument.option() != null && argument.value() != null && List.of(names).contains(argument.option())) {
                found.add(argument.value());
            }
        }
        return found;
    }

    /** A copy with every {@code -option original} changed to {@code -option replacement}. */
    QemuCommandLine replacing(String option, String original, String replacement) {
        List<Argument> changed = new ArrayList<>();
        for (Argument argument : arguments) {
            boolean matches = option.equals(argument.option()) && original.equals(argument.value());
            changed.add(matches ? new Argument(option, replacement) : argument);
        }
        return new QemuCommandLine(executable, changed);
    }

    /** A copy with {@code -option value} added at the end. */
    QemuCommandLine adding(String option, String value) {
        List<Argument> changed = new ArrayList<>(arguments);
        changed.add(new Argument(option, value));
        return new QemuCommandLine(executable, changed);
    }

    /** The words to run. */
    public List<String> words() {
        List<String> words = new ArrayList<>();
        words.add(executable);
        arguments.forEach(a -> words.addAll(a.words()));
        return words;
    }
}
