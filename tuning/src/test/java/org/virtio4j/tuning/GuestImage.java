package org.virtio4j.tuning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Linux guest for QEMU built from Debian packages only: the kernel of linux-image-amd64, and an initramfs made
 * here from busybox-static, the kernel modules asked for (with their dependencies, in load order, from
 * {@code modinfo -F depends}), host programs with their shared libraries (from {@code ldd}), and an /init script.
 * What is missing is named in the failure with its package ({@code ./virtio4j test} and {@code .ci/run} install
 * them).
 */
final class GuestImage
{
    static final String QEMU = "/usr/bin/qemu-system-x86_64";
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final Pattern LIBRARY = Pattern.compile("(/\\S+\\.so[.\\d]*)");

    final Path kernel;
    final Path initramfs;
    final List<String> moduleOrder;

    private GuestImage(final Path kernel, final Path initramfs, final List<String> moduleOrder)
    {
        this.kernel = kernel;
        this.initramfs = initramfs;
        this.moduleOrder = moduleOrder;
    }

    /**
     * @param dir        where to build.
     * @param modules    the modules the guest needs (dependencies are added).
     * @param programs   host programs to copy with their libraries.
     * @param initScript the guest's /init; {@code @MODULES@} is replaced by the module names in load order.
     */
    static GuestImage build(final Path dir, final List<String> modules, final List<Path> programs, final String initScript)
        throws IOException, InterruptedException
    {
        return build(dir, modules, programs, Map.of(), initScript);
    }

    /**
     * @param files extra files: path in the guest to host file (static programs built by the test).
     * @see #build(Path, List, List, String)
     */
    static GuestImage build(final Path dir, final List<String> modules, final List<Path> programs, final Map<String, Path> files,
        final String initScript) throws IOException, InterruptedException
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
        final Path root = Files.createDirectories(dir.resolve("initramfs"));
        for (final String sub : new String[] {"bin", "sbin", "lib/modules", "proc", "sys", "dev", "tmp", "mnt"})
        {
            Files.createDirectories(root.resolve(sub));
        }
        Files.copy(BUSYBOX, root.resolve("bin/busybox"));
        final Set<String> order = new LinkedHashSet<>();
        for (final String module : modules)
        {
            addWithDependencies(version, module, order);
        }
        for (final String module : order)
        {
            final Path source = Path.of(run("modinfo", "-k", version, "-n", module).trim());
            require(source, "linux-image-amd64 (module " + module + ")");
            Files.copy(source, root.resolve("lib/modules/" + module + ".ko"));
        }
        for (final Path program : programs)
        {
            require(program, "the package that holds " + program);
            copyInto(root, program);
            final Matcher libraries = LIBRARY.matcher(ldd(program));
            while (libraries.find())
            {
                copyInto(root, Path.of(libraries.group(1)));
            }
        }
        for (final Map.Entry<String, Path> file : files.entrySet())
        {
            final Path target = root.resolve(file.getKey().substring(1));
            Files.createDirectories(target.getParent());
            Files.copy(file.getValue(), target, StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        final Path init = root.resolve("init");
        Files.writeString(init, initScript.replace("@MODULES@", String.join(" ", order)));
        Files.setPosixFilePermissions(init, PosixFilePermissions.fromString("rwxr-xr-x"));
        final Path initramfs = dir.resolve("initramfs.cpio");
        run("sh", "-c", "cd '" + root + "' && find . | cpio -o -H newc > '" + initramfs + "'");
        return new GuestImage(kernel, initramfs, new ArrayList<>(order));
    }

    private static void addWithDependencies(final String version, final String module, final Set<String> order)
        throws IOException, InterruptedException
    {
        if (order.contains(module))
        {
            return;
        }
        for (final String dependency : run("modinfo", "-k", version, "-F", "depends", module).trim().split(","))
        {
            if (!dependency.isBlank())
            {
                addWithDependencies(version, dependency.trim(), order);
            }
        }
        order.add(module);
    }

    private static void copyInto(final Path root, final Path file) throws IOException
    {
        final Path target = root.resolve(file.toString().substring(1));
        Files.createDirectories(target.getParent());
        Files.copy(file.toRealPath(), target, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** @return ldd's output, or nothing for a static program. */
    private static String ldd(final Path program) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder("ldd", program.toString()).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes());
        process.waitFor(60, TimeUnit.SECONDS);
        return process.exitValue() == 0 ? output : "";
    }

    static String run(final String... command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0)
        {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
        }
        return output;
    }

    private static void require(final Path path, final String pkg)
    {
        if (!Files.exists(path))
        {
            throw new IllegalStateException(path + " is missing: install " + pkg);
        }
    }

    /**
     * Boots the guest with a vhost-user-blk device and returns its console output.
     *
     * @param socket     the back-end's socket.
     * @param cpus       vCPUs (and request queues).
     * @param timeoutSec the most the guest may take.
     */
    String bootWithBlk(final Path socket, final int cpus, final int timeoutSec) throws IOException, InterruptedException
    {
        return boot(List.of("-chardev", "socket,id=c0,path=" + socket,
            "-device", "vhost-user-blk-pci,chardev=c0,num-queues=" + cpus + ",queue-size=128"), cpus, timeoutSec, line -> { });
    }

    /**
     * Boots the guest with the given devices.
     *
     * @param devices    QEMU arguments adding the devices.
     * @param cpus       vCPUs.
     * @param timeoutSec the most the guest may take.
     * @param listener   told each console line as it comes (on a reader thread).
     * @return everything the guest printed.
     */
    String boot(final List<String> devices, final int cpus, final int timeoutSec, final Consumer<String> listener)
        throws IOException, InterruptedException
    {
        return start(devices, cpus, listener).awaitPowerOff(timeoutSec);
    }

    /**
     * Starts QEMU on the guest and returns at once.
     *
     * @param arguments QEMU arguments after the machine's (devices, -qmp, -incoming).
     * @param cpus      vCPUs.
     * @param listener  told each console line as it comes (on a reader thread).
     * @return the running QEMU.
     */
    RunningGuest start(final List<String> arguments, final int cpus, final Consumer<String> listener) throws IOException
    {
        final List<String> command = new ArrayList<>(List.of(QEMU,
            "-machine", "q35", "-accel", "tcg", "-smp", String.valueOf(cpus), "-m", "512M", "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", kernel.toString(), "-initrd", initramfs.toString(), "-append", "console=ttyS0 quiet panic=-1 init_on_alloc=0",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem"));
        command.addAll(arguments);
        return new RunningGuest(new ProcessBuilder(command).redirectErrorStream(true).start(), listener);
    }
}
