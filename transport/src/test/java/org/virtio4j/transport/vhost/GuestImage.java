package org.virtio4j.transport.vhost;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Linux guest for QEMU: Debian's kernel, and an initramfs made here from busybox-static, the virtio modules of
 * that kernel, and an /init script the test writes. What is missing is named in the failure, with the package to
 * install ({@code ./virtio4j test} and {@code .ci/run} install them).
 */
final class GuestImage
{
    static final String QEMU = "/usr/bin/qemu-system-x86_64";
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final String[] VIRTIO_MODULES = {
        "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko",
    };

    final Path kernel;
    final Path initramfs;

    private GuestImage(final Path kernel, final Path initramfs)
    {
        this.kernel = kernel;
        this.initramfs = initramfs;
    }

    /**
     * @param dir        where to build.
     * @param initScript the guest's /init (busybox sh).
     * @return the kernel and initramfs.
     * @throws IllegalStateException naming the missing package.
     */
    static GuestImage build(final Path dir, final String initScript) throws IOException, InterruptedException
    {
        require(Path.of(QEMU), "qemu-system-x86");
        require(BUSYBOX, "busybox-static");
        final Path kernel;
        try (Stream<Path> boot = Files.list(Path.of("/boot")))
        {
            kernel = boot.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).sorted().reduce((a, b) -> b)
                .orElseThrow(() -> new IllegalStateException("no /boot/vmlinuz-*: install linux-image-amd64"));
        }
        final String version = kernel.getFileName().toString().substring("vmlinuz-".length());
        final Path modules = Path.of("/lib/modules", version);
        final Path root = Files.createDirectories(dir.resolve("initramfs"));
        for (final String sub : new String[] {"bin", "lib/modules", "proc", "sys", "dev", "tmp"})
        {
            Files.createDirectories(root.resolve(sub));
        }
        Files.copy(BUSYBOX, root.resolve("bin/busybox"));
        for (final String module : VIRTIO_MODULES)
        {
            final Path source = modules.resolve(module);
            require(source, "linux-image-amd64 (module " + module + " of " + version + ")");
            Files.copy(source, root.resolve("lib/modules").resolve(source.getFileName()));
        }
        final Path init = root.resolve("init");
        Files.writeString(init, initScript);
        Files.setPosixFilePermissions(init, PosixFilePermissions.fromString("rwxr-xr-x"));
        final Path initramfs = dir.resolve("initramfs.cpio");
        final Process cpio = new ProcessBuilder("sh", "-c", "cd '" + root + "' && find . | cpio -o -H newc > '" + initramfs + "'")
            .redirectErrorStream(true).start();
        final String cpioOutput = new String(cpio.getInputStream().readAllBytes());
        if (!cpio.waitFor(60, TimeUnit.SECONDS) || cpio.exitValue() != 0)
        {
            throw new IllegalStateException("cpio failed (install cpio): " + cpioOutput);
        }
        return new GuestImage(kernel, initramfs);
    }

    private static void require(final Path path, final String pkg)
    {
        if (!Files.exists(path))
        {
            throw new IllegalStateException(path + " is missing: install " + pkg + " (apt-get install -y " + pkg.split(" ")[0] + ")");
        }
    }

    /**
     * Boots the guest with a vhost-user-blk device on {@code socket} and returns its console output.
     *
     * @param socket     the back-end's socket.
     * @param queues     the device's queues.
     * @param timeoutSec the most the guest may take.
     * @return everything the guest printed.
     */
    String bootWithBlk(final Path socket, final int queues, final int timeoutSec) throws IOException, InterruptedException
    {
        return bootWithBlk(socket, queues, timeoutSec, "");
    }

    /**
     * @param extraCmdline words appended to the kernel command line (the guest script can read /proc/cmdline).
     * @see #bootWithBlk(Path, int, int)
     */
    String bootWithBlk(final Path socket, final int queues, final int timeoutSec, final String extraCmdline) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of(QEMU,
            "-machine", "q35", "-accel", "tcg", "-smp", String.valueOf(queues), "-m", "256M", "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", kernel.toString(), "-initrd", initramfs.toString(), "-append", ("console=ttyS0 quiet panic=-1 " + extraCmdline).trim(),
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
            "-chardev", "socket,id=char0,path=" + socket,
            "-device", "vhost-user-blk-pci,chardev=char0,num-queues=" + queues + ",queue-size=128"));
        final Process qemu = new ProcessBuilder(command).redirectErrorStream(true).start();
        final byte[] output = qemu.getInputStream().readAllBytes();
        if (!qemu.waitFor(timeoutSec, TimeUnit.SECONDS))
        {
            qemu.destroyForcibly();
            throw new IllegalStateException("the guest did not power off within " + timeoutSec + " s:\n" + new String(output));
        }
        return new String(output);
    }
}
