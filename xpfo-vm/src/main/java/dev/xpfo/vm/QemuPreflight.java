// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.host.KvmSupport;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Checks a QEMU command line for what cannot work with guest RAM in secret memory, and rewrites what
 * has a safe equivalent. Secret memory cannot be pinned by the kernel (no GUP): so no KVM (it pins
 * guest pages), no {@code O_DIRECT} or native AIO into guest RAM, no vhost, VFIO or SG_IO (the
 * kernel or a device reaching guest RAM directly). Device I/O must go through QEMU's own buffered
 * copies, as in a confidential VM where private memory is not DMA-able. Options are read in both
 * their key=value and JSON forms.
 */
public final class QemuPreflight {
    /** The id of the RAM backend xpfo vm adds when the command line has none. */
    public static final String RAM_BACKEND_ID = "xpfo-ram";
    /** QEMU's x86 default when {@code -m} is absent. */
    static final long DEFAULT_X86_RAM = 128L << 20;
    /** QEMU rounds {@code -m} up to this. */
    private static final long RAM_ALIGNMENT = 8192;
    private static final Set<String> OTHER_ACCELERATORS = Set.of("kvm", "hvf", "whpx", "xen", "nvmm", "hax");
    /** Block drivers that hand guest RAM to a device or another process (VFIO, vDPA, vhost-user). */
    private static final Set<String> DMA_BLOCK_DRIVERS = Set.of("nvme", "virtio-blk-vhost-vdpa", "virtio-blk-vfio-pci",
            "virtio-blk-vhost-user", "host_device-vfio");
    /** Devices that pass guest RAM to the kernel for SG_IO, which pins it. */
    private static final Set<String> PASSTHROUGH_DEVICES = Set.of("scsi-block", "scsi-generic");
    /** Legacy character device forms that listen on or talk to the network. */
    private static final List<String> NETWORK_CHARDEV_PREFIXES = List.of("tcp:", "telnet:", "tn3270:", "websocket:", "udp:");
    /** {@code -d} items that log nothing of the guest's state (QEMU 7.2's {@code -d help}). */
    private static final Set<String> HARMLESS_LOG_ITEMS = Set.of("guest_errors", "unimp");
    /** QEMU's default video memory of the VGA family ({@code vgamem_mb}), in MiB. */
    private static final long DEFAULT_VGAMEM_MB = 16;

    private final Supplier<KvmSupport> kvm;
    private final List<String> rewrites = new ArrayList<>();
    private final List<Refusal> refusals = new ArrayList<>();
    private QemuCommandLine line;

    private QemuPreflight(QemuCommandLine line, Supplier<KvmSupport> kvm) {
        this.line = line;
        this.kvm = kvm;
    }

    /**
     * Checks {@code line}; {@code kvm} is asked only to explain a KVM refusal.
     *
     * @throws IllegalArgumentException if an option's value cannot be read (malformed JSON, a bad size)
     */
    public static Preflight check(QemuCommandLine line, Supplier<KvmSupport> kvm) {
        QemuPreflight preflight = new QemuPreflight(line, kvm);
        preflight.executable();
        preflight.configuration();
        preflight.accelerator();
        preflight.ram();
        preflight.drives();
        preflight.devices();
        preflight.displayMemory();
        preflight.networks();
        preflight.channels();
        preflight.guestState();
        preflight.process();
        List<Long> backends = memfdBackends(preflight.line);
        if (backends.stream().mapToLong(Long::longValue).sum() <= 0 && preflight.refusals.isEmpty()) {
            preflight.refuse("guest RAM", "the command line gives the guest no memory xpfo vm would put in secret memory "
                    + "(0 B in memory-backend-memfd objects), so whatever RAM QEMU gives it would be ordinary",
                    "give -m SIZE (xpfo vm moves it onto a memory-backend-memfd) or memory-backend-memfd objects with a size");
        }
        return new Preflight(preflight.line, preflight.rewrites, preflight.refusals, backends);
    }

    /**
     * The guest RAM a QEMU command line asks for: every memory-backend object, plus {@code -m}'s size
     * (else QEMU's x86 default of 128 MiB) unless the machine's RAM is one of those backends.
     */
    public static long declaredRam(QemuCommandLine line) {
        long backends = 0;
        for (String object : line.values("object")) {
            OptionValue value = OptionValue.parse(object, OptionValue.Syntax.OBJECT);
            if (value.get("qom-type").orElse("").startsWith("memory-backend-")) {
                backends += value.get("size").map(s -> GuestSize.parse(s, 1)).orElse(0L);
            }
        }
        return backends + (ramOnBackend(line) ? 0 : memorySize(line).orElse(DEFAULT_X86_RAM));
    }

    /** The sizes of the memory-backend-memfd objects, each of which the preload library replaces. */
    private static List<Long> memfdBackends(QemuCommandLine line) {
        List<Long> sizes = new ArrayList<>();
        for (String object : line.values("object")) {
            OptionValue value = OptionValue.parse(object, OptionValue.Syntax.OBJECT);
            if (value.get("qom-type").orElse("").equals("memory-backend-memfd")) {
                sizes.add(value.get("size").map(s -> GuestSize.parse(s, 1)).orElse(0L));
            }
        }
        return sizes;
    }

    /** Whether the machine's RAM is on a memory backend: {@code -machine memory-backend=} or NUMA nodes with {@code memdev=}. */
    private static boolean ramOnBackend(QemuCommandLine line) {
        return merged(line, OptionValue.Syntax.MACHINE, "memory-backend", "machine", "M").isPresent()
                || line.values("numa").stream().anyMatch(v -> OptionValue.parse(v, OptionValue.Syntax.NUMA).get("memdev").isPresent());
    }

    private static Optional<Long> memorySize(QemuCommandLine line) {
        return merged(line, OptionValue.Syntax.MEMORY, "size", "m").map(s -> GuestSize.parse(s, 1L << 20));
    }

    /**
     * {@code key} of options QEMU merges into one ({@code -m}, {@code -machine}/{@code -M}): the last
     * value given in any of them.
     */
    private static Optional<String> merged(QemuCommandLine line, OptionValue.Syntax syntax, String key, String... options) {
        Optional<String> found = Optional.empty();
        for (String value : line.values(options)) {
            Optional<String> here = OptionValue.parse(value, syntax).get(key);
            if (here.isPresent()) {
                found = here;
            }
        }
        return found;
    }

    /** A {@code -netdev}, {@code -nic} or {@code -net} as QEMU reads it: {@code -netdev stream|dgram} as keyval. */
    private static OptionValue network(String option, String text) {
        if (!option.equals("netdev")) {
            return OptionValue.parse(text, OptionValue.Syntax.NET);
        }
        OptionValue value = OptionValue.parse(text, OptionValue.Syntax.NETDEV);
        String type = value.get("type").orElse("");
        return type.equals("stream") || type.equals("dgram") ? OptionValue.parse(text, OptionValue.Syntax.NETDEV_MODERN) : value;
    }

    private void executable() {
        if (!line.executableName().startsWith("qemu-system-")) {
            refuse(line.executable(), "xpfo vm starts QEMU system emulators (qemu-system-*) and knows their command line",
                    "give a qemu-system-* command after --; other VMMs can take memory from xpfo serve through its "
                            + "client library (clients/c)");
        }
    }

    /** Options that change others out of sight of this check. */
    private void configuration() {
        if (!line.has("no-user-config")) {
            line = line.adding("no-user-config", null);
            rewrites.add("added -no-user-config (QEMU's default configuration file could add devices and accelerators "
                    + "out of sight of this check)");
        }
        for (String file : line.values("readconfig")) {
            refuse("-readconfig " + file, "a configuration file can set drives, devices and memory this check does not see",
                    "put those options on the command line");
        }
        for (String set : line.values("set")) {
            refuse("-set " + set, "-set changes an option after it was given, out of sight of this check",
                    "write the setting into the option itself");
        }
    }

    private void accelerator() {
        List<String> accelerators = new ArrayList<>();
        if (line.has("enable-kvm")) {
            accelerators.add("kvm");
        }
        line.values("accel").forEach(v -> OptionValue.parse(v, OptionValue.Syntax.ACCEL).get("accel").ifPresent(accelerators::add));
        line.values("machine", "M").forEach(v -> OptionValue.parse(v, OptionValue.Syntax.MACHINE).get("accel").ifPresent(accelerators::add));
        for (String accelerator : accelerators) {
            for (String name : accelerator.split(":")) {
                if (!name.equals("tcg") && !OTHER_ACCELERATORS.contains(name.toLowerCase(Locale.ROOT))) {
                    refuse("accelerator " + accelerator, "xpfo vm runs guests with TCG only, the accelerator that reaches "
                            + "guest RAM only through QEMU's own mapping; '" + name + "' is not it", "use -accel tcg");
                    return;
                }
                if (OTHER_ACCELERATORS.contains(name.toLowerCase(Locale.ROOT))) {
                    KvmSupport support = kvm.get();
                    refuse("accelerator " + accelerator, "KVM cannot run a guest from secret memory: it resolves guest "
                            + "pages through GUP (get_user_pages), which secret memory refuses, so the guest would "
                            + "fault. The kernel's way is guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP, not in "
                            + "released kernels yet. On this host: " + support.detail()
                            + (support.noDirectMap() ? " (xpfo vm does not drive guest_memfd yet)" : ""),
                            "use -accel tcg (QEMU emulates the guest and reaches its RAM only through its own mapping)");
                    return;
                }
            }
        }
        if (accelerators.isEmpty()) {
            line = line.adding("accel", "tcg");
            rewrites.add("no accelerator given: added -accel tcg (the only one that can run from secret memory)");
        }
    }

    private void ram() {
        for (String path : line.values("mem-path")) {
            refuse("-mem-path " + path, "guest RAM would be a file on a filesystem, in the direct map",
                    "drop -mem-path; xpfo vm puts -m's RAM in secret memory");
        }
        for (String m : line.values("m")) {
            OptionValue value = OptionValue.parse(m, OptionValue.Syntax.MEMORY);
            Optional<Long> maximum = value.get("maxmem").map(s -> GuestSize.parse(s, 1L << 20));
            if (maximum.isPresent() && maximum.get() > memorySize(line).orElse(0L)) {
                refuse("-m " + m, "memory hot-plugged later (up to maxmem) would not be checked, and could be ordinary",
                        "drop slots= and maxmem=");
            }
        }
        boolean anyBackend = false;
        for (String object : line.values("object")) {
            OptionValue value = OptionValue.parse(object, OptionValue.Syntax.OBJECT);
            String type = value.get("qom-type").orElse("");
            if (!type.startsWith("memory-backend-")) {
                continue;
            }
            anyBackend = true;
            String id = value.get("id").orElse("?");
            if (!type.equals("memory-backend-memfd")) {
                refuse("-object " + object, "guest memory backend '" + id + "' is " + type
                                + ", which QEMU fills with ordinary memory (in the direct map)",
                        "use memory-backend-memfd (share=on), which xpfo vm replaces with secret memory");
                continue;
            }
            if (value.get("share").map(QemuPreflight::off).orElse(false)) {
                refuse("-object " + object, "share=off maps guest RAM privately, and secret memory can only be mapped shared",
                        "drop share=off (memory-backend-memfd shares by default)");
            }
            if (value.get("hugetlb").map(QemuPreflight::on).orElse(false)) {
                refuse("-object " + object, "hugetlb=on asks for huge pages; secret memory has only 4 KiB pages",
                        "drop hugetlb=on and hugetlbsize");
            }
            if (!value.get("seal").map(QemuPreflight::off).orElse(false)) {
                rewrite("object", object, value.with("seal", "off"), "memory backend '" + id + "': seal=off "
                        + "(memory-backend-memfd seals its file by default, and secret memory refuses seals with EINVAL; "
                        + "its size is fixed by the kernel anyway)");
            }
        }
        for (String numa : line.values("numa")) {
            OptionValue value = OptionValue.parse(numa, OptionValue.Syntax.NUMA);
            if (value.get("type").orElse("node").equals("node") && value.get("mem").isPresent()) {
                refuse("-numa " + numa, "mem= gives a NUMA node ordinary memory", "use memdev= with a memory-backend-memfd");
            }
        }
        if (ramOnBackend(line)) {
            return;
        }
        if (anyBackend) {
            refuse("-m", "the machine's RAM is not on one of the memory backends given, so QEMU allocates it "
                            + "as ordinary memory",
                    "add -machine memory-backend=ID for the memory-backend-memfd of the guest's RAM");
            return;
        }
        Optional<Long> given = memorySize(line);
        boolean x86 = line.executableName().equals("qemu-system-x86_64") || line.executableName().equals("qemu-system-i386");
        if (given.isEmpty() && !x86) {
            refuse(line.executableName() + " without -m", "its default RAM size is not known to xpfo vm", "give -m");
            return;
        }
        long size = (given.orElse(DEFAULT_X86_RAM) + RAM_ALIGNMENT - 1) / RAM_ALIGNMENT * RAM_ALIGNMENT;
        line = line.adding("object", "memory-backend-memfd,id=" + RAM_BACKEND_ID + ",size=" + size
                + ",share=on,seal=off").adding("machine", "memory-backend=" + RAM_BACKEND_ID);
        if (given.isEmpty()) {
            line = line.adding("m", (size >> 20) + "M");
        }
        rewrites.add("guest RAM (" + dev.xpfo.memory.Bytes.format(size) + ") moved onto -object memory-backend-memfd,id="
                + RAM_BACKEND_ID + ",share=on,seal=off with -machine memory-backend=" + RAM_BACKEND_ID
                + ", which xpfo vm makes secret memory");
    }

    /** {@code -drive} and {@code -blockdev}, with their nested keys ({@code file.aio}, {@code file.cache.direct}). */
    private void drives() {
        for (String option : List.of("drive", "blockdev")) {
            for (String drive : line.values(option)) {
                OptionValue value = OptionValue.parse(drive, option.equals("drive") ? OptionValue.Syntax.DRIVE : OptionValue.Syntax.BLOCKDEV);
                if (reachesGuestRamDirectly(option, drive, "", value)) {
                    continue;
                }
                OptionValue changed = value;
                List<String> said = new ArrayList<>();
                for (String key : value.keys()) {
                    String v = value.get(key).orElse("");
                    if (key.equals("cache") && (v.equals("none") || v.equals("directsync"))) {
                        String buffered = v.equals("none") ? "writeback" : "writethrough";
                        changed = changed.with(key, buffered);
                        said.add("cache=" + v + " -> cache=" + buffered);
                    } else if ((key.equals("cache.direct") || key.endsWith(".cache.direct")) && on(v)) {
                        changed = changed.with(key, "off");
                        said.add(key + "=" + v + " -> off");
                    } else if ((key.equals("aio") || key.endsWith(".aio")) && (v.equals("native") || v.equals("io_uring"))) {
                        changed = changed.with(key, "threads");
                        said.add(key + "=" + v + " -> " + key + "=threads");
                    }
                }
                if (!said.isEmpty()) {
                    rewrite(option, drive, changed, "-" + option + " " + drive + ": " + String.join(", ", said)
                            + " (direct I/O pins guest pages, which secret memory refuses: the guest would see I/O "
                            + "errors; buffered I/O copies through QEMU instead)");
                }
            }
        }
    }

    /**
     * Refuses a block driver or file that hands guest RAM to a device, the kernel or another process,
     * also inside {@code json:} pseudo-filenames (whose direct I/O settings are refused too: they are
     * not rewritten inside the JSON text).
     *
     * @return whether it refused
     */
    private boolean reachesGuestRamDirectly(String option, String drive, String prefix, OptionValue value) {
        for (String key : value.keys()) {
            String v = value.get(key).orElse("");
            String full = prefix + key;
            if (v.startsWith("json:")) {
                OptionValue nested = OptionValue.parse(v.substring("json:".length()), new OptionValue.Syntax(
                        OptionValue.Grammar.KEYVAL, null, true));
                String nestedPrefix = full.equals("file") || full.equals("filename") ? "" : full.substring(0, full.lastIndexOf('.') + 1);
                for (String inner : nested.keys()) {
                    String iv = nested.get(inner).orElse("");
                    if ((inner.equals("aio") || inner.endsWith(".aio")) && (iv.equals("native") || iv.equals("io_uring"))
                            || (inner.equals("cache.direct") || inner.endsWith(".cache.direct")) && on(iv)) {
                        refuse("-" + option + " " + drive, "its json: filename asks for direct I/O (" + inner + "=" + iv
                                        + "), which pins guest pages, and is not rewritten inside the JSON",
                                "use aio=threads and cache.direct=off there, or write the options as keys");
                        return true;
                    }
                }
                if (reachesGuestRamDirectly(option, drive, nestedPrefix, nested)) {
                    return true;
                }
                continue;
            }
            boolean file = key.equals("file") || key.equals("filename") || key.endsWith(".filename") || key.endsWith(".file");
            if ((key.equals("driver") || key.endsWith(".driver") || key.equals("if")) && DMA_BLOCK_DRIVERS.contains(v)
                    || file && (v.startsWith("nvme:") || scsiGeneric(v))) {
                refuse("-" + option + " " + drive, v + " lets a device, the kernel or another process "
                                + "reach guest RAM directly (VFIO, vDPA, vhost-user or SG_IO), which needs it pinned or shared",
                        "use a file or host block device with buffered I/O");
                return true;
            }
        }
        return false;
    }

    /** A SCSI generic device ({@code /dev/sgN}, {@code /dev/bsg/...}), also through a symbolic link. */
    private static boolean scsiGeneric(String file) {
        String path = file;
        try {
            path = java.nio.file.Path.of(file).toRealPath().toString();
        } catch (java.io.IOException | java.nio.file.InvalidPathException e) {
            // not there (yet): judged by its name
        }
        return file.matches("/dev/sg\\d+") || path.matches("/dev/sg\\d+") || path.startsWith("/dev/bsg/");
    }

    private void devices() {
        for (String device : line.values("device")) {
            String driver = OptionValue.parse(device, OptionValue.Syntax.DEVICE).get("driver").orElse("");
            if (driver.startsWith("vhost-") || driver.startsWith("vfio")) {
                refuse("-device " + device, driver + " lets " + (driver.startsWith("vfio") ? "a physical device DMA"
                                : "the kernel or another process") + " straight into guest RAM, which needs it pinned or "
                                + "shared outside QEMU's own mapping",
                        "use an emulated or virtio device QEMU serves itself (virtio-net-pci with vhost=off, "
                                + "virtio-blk-pci; vsock has no such device)");
            } else if (driver.equals("x-pci-proxy-dev") || driver.equals("ivshmem") || driver.startsWith("ivshmem-")) {
                refuse("-device " + device, driver + " hands QEMU's RAM blocks to another process ("
                                + (driver.startsWith("ivshmem") ? "shared memory other processes map" : "a remote device process")
                                + "), outside the protection of secret memory",
                        "drop it; exchange data with the guest through virtio devices QEMU serves itself");
            } else if (driver.equals("qxl") || driver.equals("qxl-vga")) {
                refuse("-device " + device, driver + "'s video memory (VRAM, 64 MiB and more by default) holds the guest's "
                        + "screen and console contents in ordinary memory, outside the protection",
                        "use -vga std (or -device VGA) with the default 16 MiB, or -vga none with a serial console");
            } else if (vgamemAboveDefault(OptionValue.parse(device, OptionValue.Syntax.DEVICE))) {
                refuse("-device " + device, "video memory above QEMU's default of " + DEFAULT_VGAMEM_MB + " MiB: it holds the "
                        + "guest's screen and console contents in ordinary memory, outside the protection",
                        "drop vgamem_mb/vgamem (or -vga none with a serial console)");
            } else if (PASSTHROUGH_DEVICES.contains(driver)) {
                refuse("-device " + device, driver + " passes SCSI commands to the host with guest RAM as their "
                                + "buffers (SG_IO pins those pages, which secret memory refuses)",
                        "use scsi-hd or virtio-blk-pci on the disk");
            }
        }
    }

    /** {@code vgamem_mb} (VGA family) or {@code vgamem} (bochs-display, bytes) above QEMU's default. */
    private static boolean vgamemAboveDefault(OptionValue device) {
        return device.get("vgamem_mb").map(s -> GuestSize.parse(s, 1L << 20) > DEFAULT_VGAMEM_MB << 20).orElse(false)
                || device.get("vgamem").map(s -> GuestSize.parse(s, 1) > DEFAULT_VGAMEM_MB << 20).orElse(false);
    }

    /** {@code -vga qxl} and {@code -global DRIVER.vgamem_mb=} above the default, as the devices above. */
    private void displayMemory() {
        for (String vga : line.values("vga")) {
            if (vga.equals("qxl")) {
                refuse("-vga qxl", "qxl's video memory (VRAM, 64 MiB and more by default) holds the guest's screen and "
                                + "console contents in ordinary memory, outside the protection",
                        "use -vga std with the default 16 MiB, or -vga none with a serial console");
            }
        }
        for (String global : line.values("global")) {
            // QEMU 7.2 takes DRIVER.PROPERTY=VALUE, or else driver=D,property=P,value=V
            int eq = global.indexOf('=');
            String property = eq < 0 ? global : global.substring(0, eq);
            String value = eq < 0 ? "" : global.substring(eq + 1);
            String driver = property.contains(".") ? property.substring(0, property.lastIndexOf('.')) : "";
            String key = property.substring(property.lastIndexOf('.') + 1);
            if (!property.contains(".")) {
                OptionValue opts = OptionValue.parse(global, new OptionValue.Syntax(OptionValue.Grammar.QEMU_OPTS, null, false));
                driver = opts.get("driver").orElse("");
                key = opts.get("property").orElse("");
                value = opts.get("value").orElse("");
            }
            if (driver.startsWith("qxl") || (key.equals("vgamem_mb") || key.equals("vgamem"))
                    && vgamemAboveDefault(OptionValue.parse(key + "=" + value, OptionValue.Syntax.DEVICE))) {
                refuse("-global " + global, "it gives a display device video memory beyond QEMU's default of "
                                + DEFAULT_VGAMEM_MB + " MiB (or configures qxl): that memory holds the guest's screen and "
                                + "console contents in ordinary memory, outside the protection",
                        "drop it (the default 16 MiB VGA, or -vga none with a serial console)");
            }
        }
    }

    private void networks() {
        for (String option : List.of("netdev", "nic", "net")) {
            for (String netdev : line.values(option)) {
                OptionValue value = network(option, netdev);
                String type = value.get("type").orElse("");
                if (type.startsWith("vhost-")) {
                    refuse("-" + option + " " + netdev, type + " hands guest RAM to another backend outside QEMU",
                            "use tap or user networking with vhost=off");
                    continue;
                }
                if (value.get("vhostfd").isPresent() || value.get("vhostfds").isPresent()) {
                    refuse("-" + option + " " + netdev, "vhostfd= turns vhost-net on: a kernel thread then reads and "
                            + "writes guest RAM", "drop vhostfd=/vhostfds=");
                    continue;
                }
                OptionValue changed = value;
                List<String> said = new ArrayList<>();
                for (String key : List.of("vhost", "vhostforce")) {
                    if (value.get(key).map(QemuPreflight::on).orElse(false)) {
                        changed = changed.with(key, "off");
                        said.add(key + "=on -> off");
                    }
                }
                if (!said.isEmpty()) {
                    rewrite(option, netdev, changed, "-" + option + " " + netdev + ": " + String.join(", ", said)
                            + " (vhost-net reads and writes guest RAM from a kernel thread; QEMU copies the packets instead)");
                }
            }
        }
    }

    /**
     * The gdbstub and the monitors read and write guest RAM ({@code pmemsave}, {@code x}, {@code xp},
     * gdb memory reads) around the protection, for whoever can reach them: none may listen on the
     * network. Character devices on the network are refused wherever they appear.
     */
    private void channels() {
        if (line.has("s")) {
            refuse("-s", "-s starts QEMU's gdbstub on tcp::1234 (all addresses): whoever connects reads and writes guest "
                    + "RAM", "drop -s");
        }
        for (String gdb : line.values("gdb")) {
            if (!gdb.equals("none")) {
                refuse("-gdb " + gdb, "QEMU's gdbstub reads and writes guest RAM for whoever connects", "drop -gdb");
            }
        }
        refusals.addAll(MonitorChannels.check(line));
        if (!line.has("display", "nographic", "vnc", "spice", "curses", "sdl")) {
            line = line.adding("display", "none");
            rewrites.add("no display given: added -display none (without GTK or SDL, QEMU would fall back to VNC on "
                    + "127.0.0.1:5900 without a password, whose console carries QEMU's default monitor: any local user "
                    + "could read guest RAM; give -nographic for a console on this terminal, or -display gtk|sdl)");
        }
        for (String option : MonitorChannels.LEGACY_CHARDEV_OPTIONS) {
            for (String device : line.values(option)) {
                String backend = device.startsWith("mon:") ? device.substring(4) : device;
                if (NETWORK_CHARDEV_PREFIXES.stream().anyMatch(backend::startsWith)) {
                    refuse("-" + option + " " + device, networkChardev(option), "use a Unix socket (unix:PATH,server=on) in a "
                            + "directory only you can reach, or stdio");
                }
            }
        }
        for (String chardev : line.values("chardev")) {
            OptionValue value = OptionValue.parse(chardev, OptionValue.Syntax.CHARDEV);
            String backend = value.get("backend").orElse("");
            boolean network = backend.equals("udp") || backend.equals("tcp") || backend.equals("telnet")
                    || backend.equals("websocket") || backend.equals("socket") && (value.get("host").isPresent()
                    || value.get("port").isPresent() || value.get("telnet").map(QemuPreflight::on).orElse(false)
                    || value.get("tn3270").map(QemuPreflight::on).orElse(false)
                    || value.get("websocket").map(QemuPreflight::on).orElse(false)
                    || value.get("path").isEmpty() && value.get("fd").isEmpty());
            if (network) {
                refuse("-chardev " + chardev, networkChardev("chardev"), "use -chardev socket,path=PATH,server=on in a "
                        + "directory only you can reach");
            }
        }
    }

    private static String networkChardev(String option) {
        return "a character device on the network" + (option.equals("monitor") || option.startsWith("qmp")
                ? ": QEMU's monitor there lets whoever connects read guest RAM (pmemsave, xp, gdbserver)"
                : " is reachable by others, and as a monitor (or muxed with one) lets them read guest RAM");
    }

    /**
     * What hands guest state to something other than the guest: a TCG plugin runs inside QEMU with
     * guest RAM mapped; {@code -d} logs registers and code; {@code -incoming} loads guest RAM and
     * registers from whoever sends them.
     */
    private void guestState() {
        for (String plugin : line.values("plugin")) {
            refuse("-plugin " + plugin, "a TCG plugin is a library loaded into QEMU, with guest RAM mapped: it reads "
                    + "every guest access and can copy guest RAM anywhere", "drop -plugin");
        }
        for (String log : line.values("d")) {
            List<String> leaking = java.util.Arrays.stream(log.split(",")).filter(i -> !HARMLESS_LOG_ITEMS.contains(i)).toList();
            if (!leaking.isEmpty()) {
                refuse("-d " + log, "QEMU's log items " + String.join(",", leaking) + " write guest state (registers, "
                        + "including keys held in them, code, memory accesses, trace events) to a log file or stderr, "
                        + "ordinary memory and files out of the protection", "use only -d guest_errors,unimp, or drop -d");
            }
        }
        for (String file : line.values("D")) {
            refuse("-D " + file, "QEMU's log goes to an ordinary file (mode 0644 by default), and with -d it holds "
                    + "guest registers and code", "drop -D (guest_errors and unimp go to stderr)");
        }
        for (String incoming : line.values("incoming")) {
            if (incoming.equals("defer")) {
                continue;
            }
            Optional<String> why;
            if (incoming.startsWith("unix:")) {
                why = MonitorChannels.privateDirectory(incoming.substring(5))
                        .map(w -> "its Unix socket is in a directory others can reach (" + w + ")");
            } else {
                String scheme = incoming.contains(":") ? incoming.substring(0, incoming.indexOf(':')) : incoming;
                why = Optional.of(switch (scheme) {
                    case "tcp", "rdma" -> "QEMU listens on the network (" + scheme + ")";
                    case "exec" -> "exec: runs a shell command whose output becomes the guest";
                    case "fd" -> "fd: reads from a descriptor xpfo vm cannot see the other end of";
                    default -> "'" + scheme + "' is not a source xpfo vm can show to be yours";
                });
            }
            why.ifPresent(w -> refuse("-incoming " + incoming, w + ": whoever sends the migration stream writes the "
                    + "guest's RAM and registers (its integrity, and whatever it then does with its secrets)",
                    "use -incoming defer and migrate-incoming over your private monitor, or -incoming unix:DIR/NAME in "
                            + "a directory only you can write"));
        }
    }

    private void process() {
        if (line.has("daemonize")) {
            refuse("-daemonize", "xpfo vm keeps QEMU as its child to check its guest RAM and to stop it with the launcher",
                    "drop -daemonize and run xpfo vm itself under your supervisor (systemd, ...)");
        }
    }

    /** Puts {@code changed} where {@code -option original} was, and says so. */
    private void rewrite(String option, String original, OptionValue changed, String said) {
        line = line.replacing(option, original, changed.text());
        rewrites.add(said);
    }

    private void refuse(String what, String why, String fix) {
        refusals.add(new Refusal(what, why, fix));
    }

    private static boolean on(String value) {
        return Set.of("on", "true", "yes", "y").contains(value.toLowerCase(Locale.ROOT));
    }

    private static boolean off(String value) {
        return Set.of("off", "false", "no", "n").contains(value.toLowerCase(Locale.ROOT));
    }
}
