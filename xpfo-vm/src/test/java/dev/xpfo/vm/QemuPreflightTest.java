// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import dev.xpfo.host.KvmSupport;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What xpfo vm does to a QEMU command line before starting it: checked without booting anything. */
class QemuPreflightTest {
    private static final KvmSupport NO_KVM = new KvmSupport(false, false, -1, "/dev/kvm does not exist: no KVM on this host");
    private static final String QEMU = "/usr/bin/qemu-system-x86_64";

    private static Preflight check(String... words) {
        List<String> all = new ArrayList<>(List.of(QEMU));
        all.addAll(List.of(words));
        return QemuPreflight.check(QemuCommandLine.parse(all), () -> NO_KVM);
    }

    private static Preflight check(List<String> words) {
        List<String> all = new ArrayList<>(List.of("-accel", "tcg"));
        all.addAll(words);
        return check(all.toArray(String[]::new));
    }

    /** A fresh directory with {@code mode}, as a monitor's socket would be put in. */
    private static Path directory(String mode) {
        try {
            Path directory = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "xpfo-mon");
            Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString(mode));
            directory.toFile().deleteOnExit();
            return directory;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path privateDirectory() {
        return directory("rwx------");
    }

    private static String command(Preflight plan) {
        return String.join(" ", plan.commandLine().words());
    }

    @Nested
    class Accelerator {
        @Test
        void kvmIsRefusedWithTheReasonAndWhatWouldLiftIt() {
            for (List<String> kvm : List.of(List.of("-enable-kvm"), List.of("-accel", "kvm"), List.of("--accel", "kvm"),
                    List.of("-accel", "hvf"), List.of("-accel", "whpx"), List.of("-accel", "xen"), List.of("-accel", "nvmm"),
                    List.of("-machine", "q35,accel=kvm:tcg"), List.of("-M", "pc,accel=kvm"))) {
                Preflight plan = check(kvm.toArray(String[]::new));
                assertThat(plan.refused()).as("%s", kvm).isTrue();
                Refusal refusal = plan.refusals().getFirst();
                assertThat(refusal.why()).contains("GUP").contains("guest_memfd").contains("GUEST_MEMFD_FLAG_NO_DIRECT_MAP")
                        .contains("/dev/kvm does not exist");
                assertThat(refusal.fix()).contains("-accel tcg");
            }
        }

        @Test
        void reportsWhetherThisHostsKvmHasTheNoDirectMapFlag() {
            KvmSupport withFlag = new KvmSupport(true, true, KvmSupport.FLAG_NO_DIRECT_MAP, "KVM with guest_memfd and "
                    + "GUEST_MEMFD_FLAG_NO_DIRECT_MAP: guest memory can leave the direct map");
            Preflight plan = QemuPreflight.check(QemuCommandLine.parse(List.of(QEMU, "-enable-kvm")), () -> withFlag);
            assertThat(plan.refusals().getFirst().why()).contains("guest memory can leave the direct map")
                    .contains("xpfo vm does not drive guest_memfd yet");
        }

        @Test
        void tcgIsKeptAndAMissingAcceleratorBecomesTcgSaidOutLoud() {
            assertThat(check("-accel", "tcg").rewrites()).noneMatch(r -> r.contains("-accel"));
            Preflight plan = check("-m", "256M");
            assertThat(plan.commandLine().values("accel")).containsExactly("tcg");
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("added -accel tcg"));
        }
    }

    @Nested
    class GuestRam {
        @Test
        void plainMemoryMovesOntoAnUnsealedSharedMemfdBackend() {
            Preflight plan = check("-accel", "tcg", "-m", "512");
            assertThat(plan.refused()).isFalse();
            assertThat(plan.commandLine().values("object"))
                    .containsExactly("memory-backend-memfd,id=xpfo-ram,size=536870912,share=on,seal=off");
            assertThat(plan.commandLine().values("machine")).containsExactly("memory-backend=xpfo-ram");
            assertThat(plan.guestRamBytes()).isEqualTo(512L << 20);
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("512 MiB") && r.contains("memory-backend-memfd"));
        }

        @Test
        void withoutMinusMTheGuestGetsQemusDefaultOf128MiBExplicitly() {
            Preflight plan = check("-accel", "tcg");
            assertThat(plan.guestRamBytes()).isEqualTo(128L << 20);
            assertThat(plan.commandLine().values("m")).containsExactly("128M");
        }

        @Test
        void aMemfdBackendIsKeptButUnsealedBecauseSecretMemoryRefusesSeals() {
            Preflight plan = check("-accel", "tcg", "-m", "1G", "-object", "memory-backend-memfd,id=mem,size=1G",
                    "-machine", "q35,memory-backend=mem");
            assertThat(plan.refused()).isFalse();
            assertThat(plan.commandLine().values("object")).containsExactly("memory-backend-memfd,id=mem,size=1G,seal=off");
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("seal=off") && r.contains("EINVAL"));
            assertThat(plan.guestRamBytes()).isEqualTo(1L << 30);

            Preflight sealed = check("-accel", "tcg", "-object", "memory-backend-memfd,id=mem,size=1G,seal=on",
                    "-machine", "memory-backend=mem");
            assertThat(sealed.commandLine().values("object")).containsExactly("memory-backend-memfd,id=mem,size=1G,seal=off");

            Preflight unsealed = check("-accel", "tcg", "-object", "memory-backend-memfd,id=mem,size=1G,seal=off",
                    "-machine", "memory-backend=mem");
            assertThat(unsealed.rewrites()).noneMatch(r -> r.contains("seal"));
        }

        @Test
        void numaNodesOnMemfdBackendsCountTogether() {
            Preflight plan = check("-accel", "tcg", "-m", "2G",
                    "-object", "memory-backend-memfd,id=m0,size=1G,seal=off", "-numa", "node,memdev=m0",
                    "-object", "memory-backend-memfd,id=m1,size=1G,seal=off", "-numa", "node,memdev=m1");
            assertThat(plan.refused()).isFalse();
            assertThat(plan.guestRamBytes()).isEqualTo(2L << 30);
            assertThat(plan.commandLine().values("object")).hasSize(2);
        }

        @Test
        void otherBackendsPrivateOrHugePagesAndMemPathAreRefused() {
            assertThat(check("-accel", "tcg", "-object", "memory-backend-ram,id=m,size=1G", "-machine", "memory-backend=m")
                    .refusals()).singleElement().satisfies(r -> assertThat(r.why()).contains("memory-backend-ram"));
            assertThat(check("-accel", "tcg", "-object", "memory-backend-file,id=m,size=1G,mem-path=/dev/shm/x",
                    "-machine", "memory-backend=m").refused()).isTrue();
            assertThat(check("-accel", "tcg", "-object", "memory-backend-memfd,id=m,size=1G,share=off",
                    "-machine", "memory-backend=m").refusals()).anyMatch(r -> r.why().contains("shared"));
            assertThat(check("-accel", "tcg", "-object", "memory-backend-memfd,id=m,size=1G,hugetlb=on",
                    "-machine", "memory-backend=m").refusals()).anyMatch(r -> r.why().contains("huge pages"));
            assertThat(check("-accel", "tcg", "-m", "1G", "-mem-path", "/dev/hugepages").refusals())
                    .anyMatch(r -> r.what().contains("-mem-path"));
            assertThat(check("-accel", "tcg", "-m", "1G", "-numa", "node,mem=1G").refusals())
                    .anyMatch(r -> r.why().contains("mem="));
        }

        @Test
        void aBackendThatIsNotTheMachinesRamIsRefusedRatherThanLeaveRamOrdinary() {
            Preflight plan = check("-accel", "tcg", "-m", "1G", "-object", "memory-backend-memfd,id=m,size=1G");
            assertThat(plan.refusals()).anyMatch(r -> r.fix().contains("memory-backend=ID"));
        }
    }

    @Nested
    class DirectIo {
        @Test
        void driveCachesAndAioBecomeBufferedAndTheRestOfTheDriveIsKept() {
            Preflight plan = check("-accel", "tcg", "-drive", "file=disk.img,if=virtio,cache=none,aio=native,format=raw",
                    "-drive", "file=b.img,cache=directsync,aio=io_uring", "-drive", "file=c.img,cache.direct=on");
            assertThat(plan.refused()).isFalse();
            assertThat(plan.commandLine().values("drive")).containsExactly(
                    "file=disk.img,if=virtio,cache=writeback,aio=threads,format=raw",
                    "file=b.img,cache=writethrough,aio=threads",
                    "file=c.img,cache.direct=off");
            assertThat(plan.rewrites()).filteredOn(r -> r.startsWith("-drive")).hasSize(3)
                    .allMatch(r -> r.contains("direct I/O pins guest pages"));
        }

        @Test
        void bufferedDrivesAndTextThatOnlyLooksLikeAnOptionAreLeftAlone() {
            Preflight plan = check("-accel", "tcg", "-drive", "file=disk.img,cache=writeback",
                    "-append", "console=ttyS0 cache=none aio=native", "-nographic", "-kernel", "bzImage");
            assertThat(plan.commandLine().values("append")).containsExactly("console=ttyS0 cache=none aio=native");
            assertThat(plan.rewrites()).noneMatch(r -> r.startsWith("-drive") || r.startsWith("-append"));
            assertThat(plan.commandLine().values("kernel")).containsExactly("bzImage");
        }

        @Test
        void blockdevsAreRewrittenInBothForms() {
            Preflight plan = check("-accel", "tcg", "-blockdev", "driver=file,node-name=f,filename=d.img,cache.direct=on,aio=native");
            assertThat(plan.commandLine().values("blockdev"))
                    .containsExactly("driver=file,node-name=f,filename=d.img,cache.direct=off,aio=threads");
            Preflight json = check("-accel", "tcg", "-blockdev",
                    "{\"driver\":\"file\",\"filename\":\"d.img\",\"aio\":\"io_uring\",\"cache\":{\"direct\": true}}");
            assertThat(json.refused()).isFalse();
            assertThat(json.commandLine().values("blockdev")).containsExactly(
                    "{\"driver\":\"file\",\"filename\":\"d.img\",\"aio\":\"threads\",\"cache\":{\"direct\":false}}");
        }

        @Test
        void nestedProtocolLayersAreRewrittenToo() {
            Preflight plan = check("-accel", "tcg", "-drive", "driver=qcow2,file.filename=d.qcow2,file.aio=native,file.cache.direct=on");
            assertThat(plan.commandLine().values("drive"))
                    .containsExactly("driver=qcow2,file.filename=d.qcow2,file.aio=threads,file.cache.direct=off");
        }

        @Test
        void blockDriversThatHandGuestRamToADeviceAreRefused() {
            for (String drive : List.of("driver=nvme,device=0000:01:00.0,namespace=1",
                    "driver=virtio-blk-vhost-vdpa,path=/dev/vhost-vdpa-0", "driver=virtio-blk-vfio-pci,path=/dev/vfio/1",
                    "driver=virtio-blk-vhost-user,path=/run/vhost.sock")) {
                assertThat(check("-accel", "tcg", "-blockdev", drive).refusals()).as(drive)
                        .anyMatch(r -> r.why().contains("reach guest RAM directly"));
            }
            for (String drive : List.of("file=nvme://0000:01:00.0/1,if=none", "if=scsi,file=/dev/sg0")) {
                assertThat(check("-accel", "tcg", "-drive", drive).refusals()).as(drive)
                        .anyMatch(r -> r.why().contains("reach guest RAM directly"));
            }
            for (String device : List.of("scsi-block,drive=d0", "scsi-generic,drive=d0")) {
                assertThat(check("-accel", "tcg", "-device", device).refusals()).as(device)
                        .anyMatch(r -> r.why().contains("SG_IO"));
            }
        }

        @Test
        void commasInsideValuesSurviveARewrite() {
            Preflight plan = check("-accel", "tcg", "-drive", "file=a,,b.img,cache=none");
            assertThat(plan.commandLine().values("drive")).containsExactly("file=a,,b.img,cache=writeback");
        }
    }

    @Nested
    class Devices {
        @Test
        void vhostAndVfioDevicesAreRefused() {
            for (String device : List.of("vhost-vsock-pci,guest-cid=3", "vhost-user-fs-pci,chardev=c", "vfio-pci,host=01:00.0")) {
                assertThat(check("-accel", "tcg", "-device", device).refusals()).as(device)
                        .singleElement().satisfies(r -> assertThat(r.why()).contains("straight into guest RAM"));
            }
            assertThat(check("-accel", "tcg", "-device", "virtio-net-pci,netdev=n0").refused()).isFalse();
        }

        @Test
        void vhostNetIsSwitchedOffAndVhostUserBackendsRefused() {
            Preflight plan = check("-accel", "tcg", "-netdev", "tap,id=n0,vhost=on,vhostforce=on", "-nic", "tap,vhost=on");
            assertThat(plan.commandLine().values("netdev")).containsExactly("tap,id=n0,vhost=off,vhostforce=off");
            assertThat(plan.commandLine().values("nic")).containsExactly("tap,vhost=off");
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("vhost=on -> off"));
            assertThat(check("-accel", "tcg", "-netdev", "vhost-user,id=n0,chardev=c").refused()).isTrue();
            assertThat(check("-accel", "tcg", "-netdev", "vhost-vdpa,id=n0").refused()).isTrue();
        }
    }

    @Nested
    class HiddenForms {
        @Test
        void jsonObjectsAreCheckedLikeTheirKeyValueForms() {
            Preflight ram = check("-accel", "tcg", "-m", "2G",
                    "-object", "memory-backend-memfd,id=a,size=1G,seal=off", "-numa", "node,memdev=a",
                    "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"b\",\"size\":1073741824}",
                    "-numa", "node,memdev=b");
            assertThat(ram.refusals()).anyMatch(r -> r.why().contains("memory-backend-ram"));

            Preflight memfd = check("-accel", "tcg", "-object",
                    "{\"qom-type\":\"memory-backend-memfd\",\"id\":\"m\",\"size\":536870912}", "-machine", "memory-backend=m");
            assertThat(memfd.refused()).isFalse();
            assertThat(memfd.commandLine().values("object"))
                    .containsExactly("{\"qom-type\":\"memory-backend-memfd\",\"id\":\"m\",\"size\":536870912,\"seal\":false}");
            assertThat(memfd.guestRamBytes()).isEqualTo(512L << 20);

            assertThat(check("-accel", "tcg", "-device", "{\"driver\":\"vfio-pci\",\"host\":\"01:00.0\"}").refused()).isTrue();
            Preflight net = check("-accel", "tcg", "-netdev", "{\"type\":\"tap\",\"id\":\"n0\",\"vhost\":true}");
            assertThat(net.commandLine().values("netdev")).containsExactly("{\"type\":\"tap\",\"id\":\"n0\",\"vhost\":false}");
        }

        @Test
        void flagsWithoutAnArgumentDoNotSwallowTheNextOption() {
            assertThat(check("-perfmap", "-enable-kvm").refused()).isTrue();
            assertThat(check("-sdl", "-drive", "file=d.img,cache=none").commandLine().values("drive"))
                    .containsExactly("file=d.img,cache=writeback");
            assertThat(check("-async-teardown", "-portrait", "-accel", "kvm").refused()).isTrue();
        }

        @Test
        void legacyNetAndVhostDescriptorsAreCaught() {
            assertThat(check("-accel", "tcg", "-net", "tap,vhost=on").commandLine().values("net"))
                    .containsExactly("tap,vhost=off");
            assertThat(check("-accel", "tcg", "-netdev", "tap,id=n0,fd=3,vhostfd=4").refusals())
                    .anyMatch(r -> r.why().contains("vhostfd"));
        }

        @Test
        void configurationOutOfSightAndHotPluggableMemoryAreRefused() {
            assertThat(check("-accel", "tcg", "-readconfig", "vm.cfg").refused()).isTrue();
            assertThat(check("-accel", "tcg", "-set", "drive.d0.cache=none").refused()).isTrue();
            assertThat(check("-accel", "tcg", "-m", "1G,slots=2,maxmem=4G").refusals())
                    .anyMatch(r -> r.why().contains("hot-plugged"));
        }

        @Test
        void otherTargetsMustSayHowMuchRam() {
            Preflight arm = QemuPreflight.check(QemuCommandLine.parse(List.of("qemu-system-aarch64", "-accel", "tcg")),
                    () -> NO_KVM);
            assertThat(arm.refusals()).anyMatch(r -> r.fix().equals("give -m"));
        }

        @Test
        void malformedJsonIsAnErrorNotAGuess() {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> check("-accel", "tcg", "-object", "{\"qom-type\":"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a JSON object");
        }
    }

    /** Each option is read as QEMU 7.2 reads it (checked against qemu-system-x86_64 7.2.22 with query-memdev). */
    @Nested
    class AsQemuReadsIt {
        @Test
        void theTwoCommandLinesOfIssue11AreRefusedNotReadAsJson() {
            for (List<String> words : List.of(
                    List.of("-m", "64M", "-machine", "{\"memory-backend\":\"none,type=pc,x-oem-id=\"}"),
                    List.of("-m", "64M", "-object", " {\"k\":\"v,qom-type=memory-backend-file,id=r0,size=64M,share=on,"
                            + "mem-path=ram.img\"}", "-machine", "memory-backend=r0"))) {
                assertThatThrownBy(() -> check(words.toArray(String[]::new))).as("%s", words)
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reads it as key=value");
            }
        }

        @Test
        void theImpliedKeyIsTheTextBeforeTheFirstCommaAndALaterKeyWins() {
            OptionValue object = OptionValue.parse(" x,qom-type=memory-backend-file,id=r0", OptionValue.Syntax.OBJECT);
            assertThat(object.get("qom-type")).contains("memory-backend-file");
            assertThat(OptionValue.parse(" memory-backend-ram,id=r", OptionValue.Syntax.OBJECT).get("qom-type"))
                    .contains(" memory-backend-ram");
            // A later qom-type wins, so the backend is checked as what QEMU makes of it.
            assertThat(check("-accel", "tcg", "-object", "memory-backend-memfd,qom-type=memory-backend-ram,id=m,size=64M",
                    "-machine", "memory-backend=m").refusals()).anyMatch(r -> r.why().contains("memory-backend-ram"));
        }

        @Test
        void duplicateKeysTakeTheLastValueAndIdTheFirstAsQemuDoes() {
            OptionValue value = OptionValue.parse("memory-backend-memfd,id=a,size=32M,size=64M,noshare", OptionValue.Syntax.OBJECT);
            assertThat(value.get("size")).contains("64M");
            assertThat(value.get("share")).contains("off");
            assertThat(check("-accel", "tcg", "-object", "memory-backend-memfd,id=m,size=32M,noshare",
                    "-machine", "memory-backend=m").refusals()).anyMatch(r -> r.why().contains("share=off"));
            assertThatThrownBy(() -> OptionValue.parse("memory-backend-memfd,id=a,id=b", OptionValue.Syntax.OBJECT))
                    .hasMessageContaining("id= twice");
            assertThat(OptionValue.parse("type=pc,type=q35", OptionValue.Syntax.MACHINE).get("type")).contains("q35");
        }

        @Test
        void doubleCommasEscapeInQemuOptsButEndAKeyvalImpliedValue() {
            assertThat(OptionValue.parse("a,,b=c,size=1", OptionValue.Syntax.OBJECT).get("qom-type")).contains("a,b=c");
            assertThatThrownBy(() -> OptionValue.parse("pc,,accel=kvm", OptionValue.Syntax.MACHINE))
                    .hasMessageContaining("QEMU refuses the parameter ''");
            assertThatThrownBy(() -> OptionValue.parse("pc,usb", OptionValue.Syntax.MACHINE))
                    .hasMessageContaining("expects '='");
            assertThatThrownBy(() -> OptionValue.parse("memory-backend-memfd,id=m,x,,y=1", OptionValue.Syntax.OBJECT))
                    .hasMessageContaining("would not read as one");
        }

        @Test
        void jsonOnlyWhereQemuReadsItAndOnlyFromTheFirstByte() {
            assertThat(OptionValue.parse("{\"driver\":\"file\",\"filename\":\"d\"}", OptionValue.Syntax.BLOCKDEV)
                    .get("filename")).contains("d");
            for (String machine : List.of("{\"type\":\"pc\"}", " {\"type\":\"pc\"}")) {
                assertThatThrownBy(() -> check("-accel", "tcg", "-machine", machine)).hasMessageContaining("takes no JSON");
            }
            assertThatThrownBy(() -> check("-accel", "tcg", "-device", "\t{\"driver\":\"virtio-rng-pci\"}"))
                    .hasMessageContaining("very first character");
            assertThatThrownBy(() -> check("-accel", "tcg", "-device", "{\"driver\":\"e1000\",\"driver\":\"vfio-pci\"}"))
                    .hasMessageContaining("no duplicate keys");
        }

        @Test
        void mergedOptionsAreReadAsOne() {
            Preflight plan = check("-accel", "tcg", "-m", "64M", "-m", "slots=0");
            assertThat(plan.guestRamBytes()).isEqualTo(64L << 20);
            Preflight machine = check("-accel", "tcg", "-m", "64M", "-object", "memory-backend-memfd,id=m,size=64M",
                    "-machine", "memory-backend=m", "-machine", "pc");
            assertThat(machine.refused()).isFalse();
            assertThat(machine.commandLine().values("machine")).containsExactly("memory-backend=m", "pc");
        }

        @Test
        void aCommandLineGivingTheGuestNoSecretMemoryIsRefused() {
            assertThat(check("-accel", "tcg", "-m", "0", "-object", "memory-backend-memfd,id=m,size=0",
                    "-machine", "memory-backend=m").refusals()).anyMatch(r -> r.what().equals("guest RAM"));
        }

        @Test
        void acceleratorsOtherThanTcgAreRefused() {
            assertThat(check("-accel", "qtest").refusals()).anyMatch(r -> r.why().contains("TCG only"));
        }
    }

    /** Issue 11: what reads guest RAM around the protection, or hands it to another process. */
    @Nested
    class AroundTheProtection {
        @Test
        void theGdbstubAndMonitorsOnTheNetworkAreRefused() {
            for (List<String> channel : List.of(List.of("-s"), List.of("-gdb", "tcp::1234"), List.of("-gdb", "unix:/tmp/g,server=on"),
                    List.of("-monitor", "tcp:127.0.0.1:4444,server,nowait"), List.of("-qmp", "telnet::4445,server=on,wait=off"),
                    List.of("-qmp-pretty", "websocket:127.0.0.1:4446"), List.of("-serial", "mon:tcp::4447,server=on"),
                    List.of("-serial", "udp::4448"), List.of("-chardev", "socket,id=c,host=127.0.0.1,port=4449,server=on"),
                    List.of("-chardev", "socket,id=c,port=4450,server=on,wait=off"), List.of("-chardev", "udp,id=u,port=4451"),
                    List.of("-chardev", "socket,id=c,path=/tmp/m,websocket=on"))) {
                List<String> words = new ArrayList<>(List.of("-accel", "tcg"));
                words.addAll(channel);
                assertThat(check(words.toArray(String[]::new)).refusals()).as("%s", channel).isNotEmpty()
                        .allMatch(r -> r.why().contains("guest RAM"));
            }
            Path mine = privateDirectory();
            assertThat(check("-accel", "tcg", "-qmp", "unix:" + mine + "/qmp.sock,server=on,wait=off", "-serial", "stdio",
                    "-chardev", "socket,id=c,path=" + mine + "/mon.sock,server=on", "-mon", "chardev=c", "-gdb", "none").refused())
                    .isFalse();
        }

        @Test
        void qemusDefaultConfigurationFileIsSwitchedOff() {
            Preflight plan = check("-accel", "tcg", "-m", "64M");
            assertThat(plan.commandLine().words()).containsOnlyOnce("-no-user-config");
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("-no-user-config"));
            assertThat(check("-accel", "tcg", "-no-user-config").commandLine().words()).containsOnlyOnce("-no-user-config");
        }

        @Test
        void jsonPseudoFilenamesAreCheckedInside() {
            for (List<String> drive : List.of(
                    List.of("-drive", "file=json:{\"driver\":\"nvme\",,\"device\":\"0000:01:00.0\",,\"namespace\":1},if=none"),
                    List.of("-blockdev", "driver=qcow2,node-name=q,file=json:{\"driver\":\"file\",,\"filename\":\"d.img\",,"
                            + "\"aio\":\"native\"}"),
                    List.of("-drive", "file=json:{\"driver\":\"qcow2\",,\"file\":{\"driver\":\"file\",,\"filename\":\"d\",,"
                            + "\"cache\":{\"direct\":true}}}"),
                    List.of("-blockdev", "driver=host_device,node-name=h,filename=/dev/sg0"),
                    List.of("-blockdev", "{\"driver\":\"raw\",\"node-name\":\"r\",\"file\":\"json:{\\\"driver\\\":\\\"nvme\\\"}\"}"))) {
                List<String> words = new ArrayList<>(List.of("-accel", "tcg"));
                words.addAll(drive);
                assertThat(check(words.toArray(String[]::new)).refusals()).as("%s", drive).singleElement()
                        .satisfies(r -> assertThat(r.why()).containsAnyOf("reach guest RAM directly", "direct I/O"));
            }
        }

        @Test
        void devicesThatHandRamBlocksToAnotherProcessAreRefused() {
            for (String device : List.of("x-pci-proxy-dev,id=p,fd=4", "ivshmem-plain,memdev=shm", "ivshmem-doorbell,chardev=c",
                    "ivshmem,shm=x")) {
                assertThat(check("-accel", "tcg", "-device", device).refusals()).as(device).singleElement()
                        .satisfies(r -> assertThat(r.why()).contains("another process"));
            }
        }
    }

    /**
     * REVIEW.md finding 1: another user drove QEMU's monitor through channels the check did not count as
     * network (each of these command lines was reproduced reading guest bytes as uid 65534).
     */
    @Nested
    class PrivateMonitors {
        @Test
        void monitorsOthersCanReachAreRefusedWithTheReason() {
            Path open = directory("rwxrwxrwx");
            Path group = directory("rwxrwx---");
            Path link = privateDirectory().resolveSibling(privateDirectory().getFileName() + "-link");
            try {
                Files.createSymbolicLink(link, privateDirectory());
                link.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            for (List<String> monitor : List.of(
                    List.of("-chardev", "socket,id=m,path=xpfo-mon-abs,abstract=on,server=on,wait=off", "-mon", "chardev=m"),
                    List.of("-qmp", "unix:xpfo-qmp-abs,abstract=on,server=on"),
                    List.of("-chardev", "socket,id=m,path=/tmp/att.sock", "-mon", "chardev=m"),
                    List.of("-serial", "mon:unix:/tmp/att.sock"),
                    List.of("-monitor", "unix:/tmp/att.sock"),
                    List.of("-monitor", "unix:" + privateDirectory() + "/m.sock,server=off"),
                    List.of("-monitor", "vc", "-vnc", ":7"),
                    List.of("-serial", "mon:vc", "-vnc", ":7"),
                    List.of("-spice", "port=5930,disable-ticketing=on", "-chardev", "spiceport,id=s,name=org.qemu.monitor.hmp.0",
                            "-mon", "chardev=s"),
                    List.of("-chardev", "spiceport,id=s,name=org.qemu.monitor.qmp.0", "-mon", "chardev=s,mode=control"),
                    List.of("-chardev", "vc,id=v", "-mon", "chardev=v"),
                    List.of("-chardev", "pipe,id=p,path=/tmp/mon", "-mon", "chardev=p"),
                    List.of("-chardev", "serial,id=t,path=/dev/ttyS0", "-mon", "chardev=t"),
                    List.of("-chardev", "tty,id=t,path=/dev/ttyS1", "-serial", "mon:chardev:t"),
                    List.of("-chardev", "file,id=f,path=/tmp/mon.txt", "-monitor", "chardev:f"),
                    List.of("-chardev", "socket,id=f,fd=5,server=on", "-mon", "chardev=f"),
                    List.of("-monitor", "pipe:/tmp/mon"), List.of("-monitor", "/dev/ttyS0"), List.of("-qmp", "file:/tmp/q"),
                    List.of("-parallel", "mon:pty"),
                    List.of("-qmp", "unix:/tmp/qmp.sock,server=on,wait=off"),
                    List.of("-qmp-pretty", "unix:" + open + "/q.sock,server,nowait"),
                    List.of("-chardev", "socket,id=m,path=" + group + "/m.sock,server=on", "-mon", "chardev=m"),
                    List.of("-monitor", "unix:" + link + "/m.sock,server=on,wait=off"),
                    List.of("-serial", "pipe:/tmp/console", "-monitor", "chardev:serial0"),
                    List.of("-mon", "chardev=compat_monitor0"))) {
                List<Refusal> refusals = check(monitor).refusals();
                assertThat(refusals).as("%s", monitor).isNotEmpty().allSatisfy(r -> {
                    assertThat(r.why()).contains("guest RAM");
                    assertThat(r.fix()).isNotBlank();
                });
            }
            assertThat(check(List.of("-monitor", "unix:/tmp/att.sock")).refusals().getFirst().why()).contains("no server=on");
            assertThat(check(List.of("-qmp", "unix:" + open + "/q.sock,server=on")).refusals().getFirst().why())
                    .contains("writable by other users");
            assertThat(check(List.of("-qmp", "unix:" + link + "/q.sock,server=on")).refusals().getFirst().why())
                    .contains("symbolic link");
        }

        /** Without GTK or SDL (this machine), QEMU with no display option serves VNC on 127.0.0.1:5900 with the monitor on it. */
        @Test
        void withoutADisplayOptionTheFallbackVncIsSwitchedOff() {
            Preflight plan = check("-accel", "tcg", "-m", "64M");
            assertThat(plan.commandLine().values("display")).containsExactly("none");
            assertThat(plan.rewrites()).anyMatch(r -> r.contains("-display none") && r.contains("5900"));
            for (List<String> chosen : List.of(List.of("-nographic"), List.of("-display", "gtk"), List.of("-vnc", "none"),
                    List.of("-display", "none"))) {
                assertThat(check(chosen).commandLine().values("display")).as("%s", chosen)
                        .containsExactlyElementsOf(chosen.contains("-display") ? List.of(chosen.get(1)) : List.of());
            }
        }

        @Test
        void abstractSocketsAreRefusedForEveryCharacterDevice() {
            for (List<String> chardev : List.of(
                    List.of("-chardev", "socket,id=c,path=console,abstract=on,server=on,wait=off", "-serial", "chardev:c"),
                    List.of("-serial", "unix:console,abstract=on,server=on"))) {
                assertThat(check(chardev).refusals()).as("%s", chardev).singleElement()
                        .satisfies(r -> assertThat(r.why()).contains("abstract"));
            }
        }

        @Test
        void remoteDisplaysAreRefusedUnlessOnAPrivateUnixSocket() {
            for (List<String> display : List.of(List.of("-vnc", ":7"), List.of("-vnc", "127.0.0.1:0"),
                    List.of("-display", "vnc=:7"), List.of("-vnc", "unix:/tmp/vnc.sock"),
                    List.of("-vnc", "unix:" + privateDirectory() + "/v.sock,websocket=5700"),
                    List.of("-spice", "port=5930,disable-ticketing=on"),
                    List.of("-spice", "unix=on,addr=/tmp/spice.sock,disable-ticketing=on"))) {
                assertThat(check(display).refusals()).as("%s", display).singleElement()
                        .satisfies(r -> assertThat(r.why()).contains("monitor").contains("guest RAM"));
            }
        }

        @Test
        void stdioNoneAndListeningSocketsInAPrivateDirectoryAreKept() {
            Path mine = privateDirectory();
            for (List<String> safe : List.of(List.of("-nographic"), List.of("-monitor", "stdio"), List.of("-monitor", "none"),
                    List.of("-serial", "mon:stdio"), List.of("-chardev", "stdio,id=s,mux=on", "-mon", "chardev=s"),
                    List.of("-qmp", "unix:" + mine + "/q.sock,server,nowait"),
                    List.of("-chardev", "socket,id=m,path=" + mine + "/m.sock,server=on,wait=off", "-mon", "chardev=m"),
                    List.of("-vnc", "none"), List.of("-vnc", "unix:" + mine + "/v.sock"),
                    List.of("-spice", "unix=on,addr=" + mine + "/s.sock,disable-ticketing=on"),
                    List.of("-chardev", "pipe,id=p,path=/tmp/console", "-serial", "chardev:p"))) {
                assertThat(check(safe).refusals()).as("%s", safe).isEmpty();
            }
        }
    }

    /** REVIEW.md findings 2, 3 and 10: what hands guest state to others without touching the monitor. */
    @Nested
    class GuestState {
        @Test
        void tcgPluginsAreRefused() {
            assertThat(check(List.of("-plugin", "/tmp/libcopy.so,arg=x")).refusals()).singleElement()
                    .satisfies(r -> assertThat(r.why()).contains("plugin").contains("guest RAM"));
        }

        @Test
        void loggingOfGuestStateIsRefusedAndHarmlessItemsKept() {
            assertThat(check(List.of("-d", "cpu,fpu", "-D", "/tmp/qemu.log")).refusals()).hasSize(2)
                    .anySatisfy(r -> assertThat(r.why()).contains("cpu,fpu").contains("registers"))
                    .anySatisfy(r -> assertThat(r.what()).isEqualTo("-D /tmp/qemu.log"));
            for (String item : List.of("in_asm", "exec", "int", "mmu", "guest_errors,op", "trace:memory_region_ops_read",
                    "strace", "page")) {
                assertThat(check(List.of("-d", item)).refused()).as(item).isTrue();
            }
            assertThat(check(List.of("-d", "guest_errors,unimp")).refused()).isFalse();
        }

        @Test
        void incomingMigrationFromOthersIsRefused() {
            for (String incoming : List.of("tcp:0:4444", "tcp:127.0.0.1:4444", "rdma:0:4444", "exec:cat /tmp/state",
                    "fd:5", "unix:/tmp/in.sock")) {
                assertThat(check(List.of("-incoming", incoming)).refusals()).as(incoming).singleElement()
                        .satisfies(r -> assertThat(r.why()).contains("writes the guest's RAM"));
            }
            assertThat(check(List.of("-incoming", "defer")).refused()).isFalse();
            assertThat(check(List.of("-incoming", "unix:" + privateDirectory() + "/in.sock")).refused()).isFalse();
        }
    }

    /** REVIEW.md finding 6: a negative size read as a size. */
    @Test
    void negativeSizesAreNotSizes() {
        assertThatThrownBy(() -> check("-accel", "tcg", "-m", "size=-1")).hasMessageContaining("negative");
        assertThatThrownBy(() -> check("-accel", "tcg", "-m", "-1G")).hasMessageContaining("negative");
        assertThatThrownBy(() -> check("-accel", "tcg", "-object", "memory-backend-memfd,id=m,size=-4096",
                "-machine", "memory-backend=m")).hasMessageContaining("negative");
        assertThat(check("-accel", "tcg", "-m", "0").refusals()).anySatisfy(r -> assertThat(r.what()).isEqualTo("guest RAM"));
    }

    /** REVIEW.md finding 5: device memory the guest writes its screen into is ordinary memory. */
    @Test
    void videoMemoryBeyondTheDefaultAndQxlAreRefused() {
        for (List<String> display : List.of(List.of("-device", "VGA,vgamem_mb=256"), List.of("-device", "qxl-vga"),
                List.of("-device", "qxl,id=q"), List.of("-vga", "qxl"), List.of("-device", "cirrus-vga,vgamem_mb=32"),
                List.of("-device", "bochs-display,vgamem=64M"), List.of("-global", "VGA.vgamem_mb=256"),
                List.of("-global", "driver=VGA,property=vgamem_mb,value=256"))) {
            assertThat(check(display).refusals()).as("%s", display).singleElement()
                    .satisfies(r -> assertThat(r.why()).contains("ordinary memory").contains("screen"));
        }
        for (List<String> display : List.of(List.of("-device", "VGA"), List.of("-device", "VGA,vgamem_mb=16"),
                List.of("-vga", "std"), List.of("-vga", "none"))) {
            assertThat(check(display).refused()).as("%s", display).isFalse();
        }
    }

    @Test
    void daemonizingAndOtherProgramsAreRefused() {
        assertThat(check("-accel", "tcg", "-daemonize").refusals()).anyMatch(r -> r.what().equals("-daemonize"));
        Preflight firecracker = QemuPreflight.check(QemuCommandLine.parse(List.of("firecracker", "--api-sock", "s")),
                () -> NO_KVM);
        assertThat(firecracker.refusals()).anyMatch(r -> r.why().contains("qemu-system-*"));
    }

    @Test
    void anOptionMissingItsArgumentIsAnErrorNotAGuess() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> QemuCommandLine.parse(List.of(QEMU, "-m")))
                .hasMessageContaining("-m needs an argument");
    }

    @Test
    void declaredRamReadsMinusMInMiBAndBackendSizesInBytes() {
        assertThat(QemuPreflight.declaredRam(QemuCommandLine.parse(List.of(QEMU, "-m", "300")))).isEqualTo(300L << 20);
        assertThat(QemuPreflight.declaredRam(QemuCommandLine.parse(List.of(QEMU, "-m", "size=2G,slots=2,maxmem=8G"))))
                .isEqualTo(2L << 30);
        assertThat(QemuPreflight.declaredRam(QemuCommandLine.parse(List.of(QEMU, "-object",
                "memory-backend-memfd,id=m,size=4096", "-m", "1G", "-machine", "memory-backend=m")))).isEqualTo(4096);
        // A backend that is not the machine's RAM (an ivshmem region, say) comes on top of -m.
        assertThat(QemuPreflight.declaredRam(QemuCommandLine.parse(List.of(QEMU, "-object",
                "memory-backend-file,id=shm,size=1M,mem-path=/dev/shm/x", "-m", "4G")))).isEqualTo((4L << 30) + (1L << 20));
        assertThat(QemuPreflight.declaredRam(QemuCommandLine.parse(List.of(QEMU)))).isEqualTo(128L << 20);
        assertThat(command(check("-accel", "tcg", "-m", "1.5G"))).contains("size=1610612736");
    }
}
