// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.client.ServiceSocket;
import dev.xpfo.handoff.SocketDirectory;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The one place that decides which channels reach QEMU's monitor, and whether each is private to the
 * user who runs {@code xpfo vm}. Whoever talks to a monitor reads guest RAM ({@code xp},
 * {@code pmemsave}, {@code gdbserver}), so a monitor is allowed only on stdio (or none/null), or on a
 * Unix socket QEMU itself listens on ({@code server=on}), with a file name (not abstract), in a
 * directory only this user (or root) can write. Monitors are: {@code -monitor}, {@code -qmp},
 * {@code -qmp-pretty}, the {@code -chardev} a {@code -mon chardev=ID} (or {@code chardev:ID}) names,
 * every {@code mon:} mux, and the graphical console ({@code vc}, QEMU's default monitor), which reaches
 * whoever sees the display: so {@code -vnc} and {@code -spice} are allowed only on such a Unix socket too.
 * Abstract sockets, which no file permission guards, are refused for every character device.
 */
final class MonitorChannels {
    /** Options taking a legacy character device ({@code -serial unix:PATH,server=on}). */
    static final List<String> LEGACY_CHARDEV_OPTIONS = List.of("monitor", "qmp", "qmp-pretty", "serial", "parallel",
            "virtioconsole", "debugcon");
    private static final List<String> MONITOR_OPTIONS = List.of("monitor", "qmp", "qmp-pretty");
    /** {@code unix:PATH,...} after the prefix: QEMU reads it as QemuOpts with {@code path} implied. */
    private static final OptionValue.Syntax LEGACY_UNIX = new OptionValue.Syntax(OptionValue.Grammar.QEMU_OPTS, "path", false);
    private static final OptionValue.Syntax VNC = new OptionValue.Syntax(OptionValue.Grammar.QEMU_OPTS, "vnc", false);
    private static final OptionValue.Syntax SPICE = new OptionValue.Syntax(OptionValue.Grammar.QEMU_OPTS, null, false);
    static final String FIX = "put the monitor on stdio, or on a Unix socket QEMU listens on in a directory only you can "
            + "write (mkdir -m 700 DIR; -chardev socket,id=m,path=DIR/mon.sock,server=on,wait=off -mon chardev=m, "
            + "or -qmp unix:DIR/qmp.sock,server=on,wait=off)";

    private final QemuCommandLine line;
    private final List<Refusal> refusals = new ArrayList<>();

    private MonitorChannels(QemuCommandLine line) {
        this.line = line;
    }

    /** What {@code line} exposes through its monitors, displays and abstract sockets; empty if nothing. */
    static List<Refusal> check(QemuCommandLine line) {
        MonitorChannels channels = new MonitorChannels(line);
        channels.monitors();
        channels.abstractSockets();
        channels.displays();
        return channels.refusals;
    }

    private void monitors() {
        Set<String> monitorChardevs = new HashSet<>();
        for (String option : LEGACY_CHARDEV_OPTIONS) {
            for (String device : line.values(option)) {
                boolean monitor = MONITOR_OPTIONS.contains(option) || device.startsWith("mon:");
                String backend = device.startsWith("mon:") ? device.substring(4) : device;
                if (!monitor || MONITOR_OPTIONS.contains(option) && backend.equals("none")) {
                    continue;
                }
                if (backend.startsWith("chardev:")) {
                    monitorChardevs.add(backend.substring("chardev:".length()));
                    continue;
                }
                legacyMonitor(option, device, backend).ifPresent(why -> refuse("-" + option + " " + device, why));
            }
        }
        for (String mon : line.values("mon")) {
            OptionValue.parse(mon, OptionValue.Syntax.MON).get("chardev").ifPresent(monitorChardevs::add);
        }
        Set<String> seen = new HashSet<>();
        for (String chardev : line.values("chardev")) {
            OptionValue value = OptionValue.parse(chardev, OptionValue.Syntax.CHARDEV);
            String id = value.get("id").orElse("");
            if (monitorChardevs.contains(id)) {
                seen.add(id);
                chardevMonitor(value).ifPresent(why -> refuse("-chardev " + chardev, why));
            }
        }
        for (String id : monitorChardevs) {
            if (!seen.contains(id)) {
                refuse("monitor on chardev '" + id + "'", "no -chardev on the command line has id=" + id + ", so this check "
                        + "cannot see where the monitor would be, and whoever reaches a monitor reads guest RAM",
                        "give the monitor's -chardev with that id on the command line");
            }
        }
    }

    /** Why a legacy character device ({@code -monitor BACKEND}) is not a private monitor, if it is not. */
    private static Optional<String> legacyMonitor(String option, String device, String backend) {
        if (backend.equals("stdio") || backend.equals("null") || backend.equals("none")) {
            return Optional.empty();
        }
        if (backend.startsWith("unix:")) {
            OptionValue value = OptionValue.parse(backend.substring("unix:".length()), LEGACY_UNIX);
            return unixMonitor(value, value.get("path").orElse(""));
        }
        int colon = backend.indexOf(':');
        String kind = backend.startsWith("/dev/") ? "serial" : colon < 0 ? backend : backend.substring(0, colon);
        return Optional.of(notPrivate(kind.equals("vc") ? "vc" : kind));
    }

    /** Why a {@code -chardev} used as a monitor is not private, if it is not. */
    private static Optional<String> chardevMonitor(OptionValue value) {
        String backend = value.get("backend").orElse("");
        if (backend.equals("stdio") || backend.equals("null")) {
            return Optional.empty();
        }
        if (backend.equals("socket") && value.get("path").isPresent() && value.get("host").isEmpty()
                && value.get("port").isEmpty()) {
            return unixMonitor(value, value.get("path").get());
        }
        return Optional.of(notPrivate(backend.equals("socket") && value.get("fd").isPresent() ? "fd" : backend));
    }

    /** A Unix socket monitor: private only if QEMU listens, on a file name, in a directory only this user writes. */
    private static Optional<String> unixMonitor(OptionValue value, String path) {
        if (value.get("abstract").map(MonitorChannels::on).orElse(false)) {
            return Optional.of(abstractWhy());
        }
        if (!value.get("server").map(MonitorChannels::on).orElse(false)) {
            return Optional.of("the monitor's Unix socket " + path + " has no server=on, so QEMU connects out to it: "
                    + "whoever listens at that path first (any user who can create it) drives the monitor and reads "
                    + "guest RAM (xp, pmemsave)");
        }
        return privateDirectory(path).map(why -> "the monitor's Unix socket " + path + " is in a directory others can "
                + "reach (" + why + "): they could connect, or put a socket of their own in its place, and read guest RAM");
    }

    /**
     * Why the directory holding {@code socket} is not private to this user, if it is not
     * ({@link SocketDirectory}: a real directory of this user's or root's that no group or other user may
     * write to, below directories nobody else can rename it out of).
     */
    static Optional<String> privateDirectory(String socket) {
        Path parent;
        try {
            parent = Path.of(socket).toAbsolutePath().normalize().getParent();
        } catch (InvalidPathException e) {
            return Optional.of("not a path");
        }
        if (parent == null) {
            return Optional.of("no directory");
        }
        return SocketDirectory.othersCouldListenIn(parent, ServiceSocket.currentUid())
                .map(why -> why + "; use a directory of your own (chmod 700) below ones nobody else may write to");
    }

    private static String notPrivate(String backend) {
        String where = switch (backend) {
            case "vc" -> "a graphical console, which reaches whoever sees the display (a VNC or SPICE client: "
                    + "Ctrl-Alt-2 is the monitor)";
            case "spiceport", "spicevmc" -> "a SPICE channel, which any SPICE client of this QEMU can open";
            case "pipe", "file" -> "a " + backend + ", whose other end (the FIFO or file) whoever can open it reads or writes";
            case "serial", "tty", "parallel", "parport", "pty" -> "a host " + backend + " device, whose other end "
                    + "whoever can open that device (or is wired to it) drives";
            case "fd" -> "a socket passed in by descriptor, whose other end xpfo vm cannot see";
            case "tcp", "telnet", "tn3270", "websocket", "udp", "socket" -> "the network (" + backend + "), where whoever "
                    + "connects drives it";
            default -> "'" + backend + "', which xpfo vm cannot show to be private to you";
        };
        return "QEMU's monitor would be on " + where + ": whoever reaches the monitor reads guest RAM (xp, pmemsave, "
                + "gdbserver) around the protection";
    }

    private static String abstractWhy() {
        return "an abstract Unix socket (abstract=on) has no file and so no permissions: any process of any user in "
                + "this network namespace can connect, and as a monitor (or muxed with one) read guest RAM";
    }

    /** Abstract sockets anywhere: no file permission keeps others from connecting. */
    private void abstractSockets() {
        for (String option : LEGACY_CHARDEV_OPTIONS) {
            for (String device : line.values(option)) {
                String backend = device.startsWith("mon:") ? device.substring(4) : device;
                if (backend.startsWith("unix:") && OptionValue.parse(backend.substring(5), LEGACY_UNIX).get("abstract")
                        .map(MonitorChannels::on).orElse(false) && !alreadyRefused("-" + option + " " + device)) {
                    refuse("-" + option + " " + device, abstractWhy(), "use a socket file: unix:DIR/NAME,server=on in "
                            + "a directory only you can write");
                }
            }
        }
        for (String chardev : line.values("chardev")) {
            if (OptionValue.parse(chardev, OptionValue.Syntax.CHARDEV).get("abstract").map(MonitorChannels::on).orElse(false)
                    && !alreadyRefused("-chardev " + chardev)) {
                refuse("-chardev " + chardev, abstractWhy(), "use a socket file: path=DIR/NAME,server=on in a directory "
                        + "only you can write");
            }
        }
    }

    /**
     * VNC and SPICE show the graphical console, and with it QEMU's default monitor ({@code vc}): allowed
     * only off ({@code none}) or on a Unix socket in a private directory.
     */
    private void displays() {
        List<String> vncs = new ArrayList<>(line.values("vnc"));
        for (String display : line.values("display")) {
            if (display.startsWith("vnc=")) {
                vncs.add(display.substring("vnc=".length()));
            }
        }
        for (String vnc : vncs) {
            OptionValue value = OptionValue.parse(vnc, VNC);
            String where = value.get("vnc").orElse("");
            Optional<String> why;
            if (where.equals("none")) {
                why = Optional.empty();
            } else if (!where.startsWith("unix:")) {
                why = Optional.of("VNC on " + where + " listens on TCP");
            } else if (value.get("websocket").isPresent()) {
                why = Optional.of("websocket= makes VNC listen on TCP as well");
            } else {
                why = privateDirectory(where.substring(5)).map(w -> "its Unix socket is in a directory others can reach (" + w + ")");
            }
            why.ifPresent(w -> refuse("-vnc " + vnc, w + ": whoever connects sees the graphical console, where QEMU's "
                    + "monitor is (Ctrl-Alt-2; the default monitor is there), and reads guest RAM through it",
                    "use -nographic or -display none, or -vnc unix:DIR/vnc.sock in a directory only you can write"));
        }
        for (String spice : line.values("spice")) {
            OptionValue value = OptionValue.parse(spice, SPICE);
            Optional<String> why;
            if (!value.get("unix").map(MonitorChannels::on).orElse(false)) {
                why = Optional.of("SPICE listens on TCP (no unix=on)");
            } else {
                why = privateDirectory(value.get("addr").orElse("")).map(w -> "its Unix socket is in a directory others "
                        + "can reach (" + w + ")");
            }
            why.ifPresent(w -> refuse("-spice " + spice, w + ": whoever connects sees the graphical console and "
                    + "SPICE channels, where QEMU's monitor can be, and reads guest RAM through it",
                    "drop -spice, or use unix=on,addr=DIR/spice.sock in a directory only you can write"));
        }
    }

    private boolean alreadyRefused(String what) {
        return refusals.stream().anyMatch(r -> r.what().equals(what));
    }

    private void refuse(String what, String why) {
        refuse(what, why, FIX);
    }

    private void refuse(String what, String why, String fix) {
        refusals.add(new Refusal(what, why, fix));
    }

    private static boolean on(String value) {
        return Set.of("on", "true", "yes", "y").contains(value.toLowerCase(Locale.ROOT));
    }
}
