package dev.xpfo.vm;

import dev.xpfo.host.KvmSupport;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Checks a QEMU command line for what cannot work with guest RAM in secret memory, and rewrites what
 * has a safe equivalent. Secret memory cannot be pinned by the kernel (no GUP): so no KVM (it pins
 * guest pages), no {@code O_DIRECT} or native AIO into guest RAM, no vhost or VFIO (the kernel or
 * a device reaching guest RAM directly). Device I/O must go through QEMU's own buffered copies, as
 * in a confidential VM where private memory is not DMA-able.
 */
public final class QemuPreflight {
    /** The id of the RAM backend xpfo vm adds when the command line has none. */
    public static final String RAM_BACKEND_ID = "xpfo-ram";
    /** QEMU's x86 default when {@code -m} is absent. */
    static final long DEFAULT_RAM = 128L << 20;
    private static final Set<String> OTHER_ACCELERATORS = Set.of("kvm", "hvf", "whpx", "xen", "nvmm", "hax");
    private static final Pattern JSON_DIRECT = Pattern.compile("\"direct\"\\s*:\\s*true|\"aio\"\\s*:\\s*\"(native|io_uring)\"");

    private final Supplier<KvmSupport> kvm;
    private final List<String> rewrites = new ArrayList<>();
    private final List<Refusal> refusals = new ArrayList<>();
    private QemuCommandLine line;

    private QemuPreflight(QemuCommandLine line, Supplier<KvmSupport> kvm) {
        this.line = line;
        this.kvm = kvm;
    }

    /** Checks {@code line}; {@code kvm} is asked only to explain a KVM refusal. */
    public static Preflight check(QemuCommandLine line, Supplier<KvmSupport> kvm) {
        QemuPreflight preflight = new QemuPreflight(line, kvm);
        preflight.executable();
        preflight.accelerator();
        preflight.ram();
        preflight.drives();
        preflight.devices();
        preflight.process();
        return new Preflight(preflight.line, preflight.rewrites, preflight.refusals, declaredRam(preflight.line));
    }

    /**
     * The guest RAM a QEMU command line asks for: the sum of its memory-backend objects if it has
     * any, else {@code -m}'s size, else QEMU's default of 128 MiB.
     */
    public static long declaredRam(QemuCommandLine line) {
        long backends = 0;
        boolean any = false;
        for (String object : line.values("object")) {
            OptionValue value = OptionValue.parse(object, "qom-type");
            if (value.get("qom-type").orElse("").startsWith("memory-backend-")) {
                any = true;
                backends += value.get("size").map(s -> GuestSize.parse(s, 1)).orElse(0L);
            }
        }
        if (any) {
            return backends;
        }
        return memorySize(line).orElse(DEFAULT_RAM);
    }

    private static Optional<Long> memorySize(QemuCommandLine line) {
        List<String> m = line.values("m");
        return m.isEmpty() ? Optional.empty()
                : OptionValue.parse(m.getLast(), "size").get("size").map(s -> GuestSize.parse(s, 1L << 20));
    }

    private void executable() {
        if (!line.executableName().startsWith("qemu-system-")) {
            refuse(line.executable(), "xpfo vm starts QEMU system emulators (qemu-system-*) and knows their command line",
                    "give a qemu-system-* command after --; other VMMs can take memory from xpfo serve through its "
                            + "client library (clients/c)");
        }
    }

    private void accelerator() {
        List<String> accelerators = new ArrayList<>();
        if (line.has("enable-kvm")) {
            accelerators.add("kvm");
        }
        line.values("accel").forEach(v -> OptionValue.parse(v, "accel").get("accel").ifPresent(accelerators::add));
        line.values("machine", "M").forEach(v -> OptionValue.parse(v, "type").get("accel").ifPresent(accelerators::add));
        for (String accelerator : accelerators) {
            for (String name : accelerator.split(":")) {
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
        boolean anyBackend = false;
        for (String object : line.values("object")) {
            OptionValue value = OptionValue.parse(object, "qom-type");
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
                line = line.rewriting(v -> v.equals(object) ? value.with("seal", "off").text() : v, "object");
                rewrites.add("memory backend '" + id + "': seal=off (memory-backend-memfd seals its file by default, "
                        + "and secret memory refuses seals with EINVAL; its size is fixed by the kernel anyway)");
            }
        }
        for (String numa : line.values("numa")) {
            OptionValue value = OptionValue.parse(numa, "type");
            if (value.get("type").orElse("node").equals("node") && value.get("mem").isPresent()) {
                refuse("-numa " + numa, "mem= gives a NUMA node ordinary memory", "use memdev= with a memory-backend-memfd");
            }
        }
        boolean machineBackend = line.values("machine", "M").stream()
                .anyMatch(v -> OptionValue.parse(v, "type").get("memory-backend").isPresent());
        boolean numaBackend = line.values("numa").stream()
                .anyMatch(v -> OptionValue.parse(v, "type").get("memdev").isPresent());
        if (!machineBackend && !numaBackend) {
            if (anyBackend) {
                refuse("-m", "the machine's RAM is not on one of the memory backends given, so QEMU allocates it "
                                + "as ordinary memory",
                        "add -machine memory-backend=ID for the memory-backend-memfd of the guest's RAM");
                return;
            }
            long size = memorySize(line).orElse(DEFAULT_RAM);
            line = line.adding("object", "memory-backend-memfd,id=" + RAM_BACKEND_ID + ",size=" + size
                    + ",share=on,seal=off").adding("machine", "memory-backend=" + RAM_BACKEND_ID);
            if (line.values("m").isEmpty()) {
                line = line.adding("m", (size >> 20) + "M");
            }
            rewrites.add("guest RAM (" + (size >> 20) + " MiB) moved onto -object memory-backend-memfd,id="
                    + RAM_BACKEND_ID + ",share=on,seal=off with -machine memory-backend=" + RAM_BACKEND_ID
                    + ", which xpfo vm makes secret memory");
        }
    }

    private void drives() {
        for (String drive : line.values("drive")) {
            OptionValue value = OptionValue.parse(drive, null);
            OptionValue changed = value;
            List<String> said = new ArrayList<>();
            String cache = value.get("cache").orElse("writeback");
            if (cache.equals("none") || cache.equals("directsync")) {
                String buffered = cache.equals("none") ? "writeback" : "writethrough";
                changed = changed.with("cache", buffered);
                said.add("cache=" + cache + " -> cache=" + buffered);
            }
            if (value.get("cache.direct").map(QemuPreflight::on).orElse(false)) {
                changed = changed.with("cache.direct", "off");
                said.add("cache.direct=on -> off");
            }
            changed = aio(value, changed, said);
            rewrite("drive", drive, changed, said);
        }
        for (String blockdev : line.values("blockdev")) {
            if (blockdev.trim().startsWith("{")) {
                if (JSON_DIRECT.matcher(blockdev).find()) {
                    refuse("-blockdev " + blockdev, "direct or native I/O would move data straight between the disk "
                                    + "and guest RAM (O_DIRECT pins pages, which secret memory refuses)",
                            "use \"cache\": {\"direct\": false} and \"aio\": \"threads\"");
                }
                continue;
            }
            OptionValue value = OptionValue.parse(blockdev, null);
            OptionValue changed = value;
            List<String> said = new ArrayList<>();
            if (value.get("cache.direct").map(QemuPreflight::on).orElse(false)) {
                changed = changed.with("cache.direct", "off");
                said.add("cache.direct=on -> off");
            }
            changed = aio(value, changed, said);
            rewrite("blockdev", blockdev, changed, said);
        }
    }

    private static OptionValue aio(OptionValue value, OptionValue changed, List<String> said) {
        String aio = value.get("aio").orElse("threads");
        if (aio.equals("native") || aio.equals("io_uring")) {
            said.add("aio=" + aio + " -> aio=threads");
            return changed.with("aio", "threads");
        }
        return changed;
    }

    private void rewrite(String option, String original, OptionValue changed, List<String> said) {
        if (said.isEmpty()) {
            return;
        }
        String text = changed.text();
        line = line.rewriting(v -> v.equals(original) ? text : v, option);
        rewrites.add("-" + option + " " + original + ": " + String.join(", ", said)
                + " (direct I/O pins guest pages, which secret memory refuses: the guest would see I/O errors; "
                + "buffered I/O copies through QEMU instead)");
    }

    private void devices() {
        for (String device : line.values("device")) {
            String driver = OptionValue.parse(device, "driver").get("driver").orElse("");
            if (driver.startsWith("vhost-") || driver.startsWith("vfio")) {
                refuse("-device " + device, driver + " lets " + (driver.startsWith("vfio") ? "a physical device DMA"
                                : "the kernel or another process") + " straight into guest RAM, which needs it pinned or "
                                + "shared outside QEMU's own mapping",
                        "use an emulated or virtio device QEMU serves itself (virtio-net-pci with vhost=off, "
                                + "virtio-blk-pci, virtio-vsock is not available without vhost)");
            }
        }
        for (String option : List.of("netdev", "nic")) {
            for (String netdev : line.values(option)) {
                OptionValue value = OptionValue.parse(netdev, "type");
                String type = value.get("type").orElse("");
                if (type.startsWith("vhost-")) {
                    refuse("-" + option + " " + netdev, type + " hands guest RAM to another backend outside QEMU",
                            "use tap or user networking with vhost=off");
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
                    String text = changed.text();
                    line = line.rewriting(v -> v.equals(netdev) ? text : v, option);
                    rewrites.add("-" + option + " " + netdev + ": " + String.join(", ", said) + " (vhost-net reads "
                            + "and writes guest RAM from a kernel thread; QEMU copies the packets instead)");
                }
            }
        }
    }

    private void process() {
        if (line.has("daemonize")) {
            refuse("-daemonize", "xpfo vm keeps QEMU as its child to check its guest RAM and to stop it with the launcher",
                    "drop -daemonize and run xpfo vm itself under your supervisor (systemd, ...)");
        }
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
