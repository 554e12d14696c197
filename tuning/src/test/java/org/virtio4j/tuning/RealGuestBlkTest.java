package org.virtio4j.tuning;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Linux guest (Debian's kernel under QEMU 7.2 with TCG, 2 vCPUs) uses a 2-queue vhost-user-blk disk served by
 * {@code virtio4j serve} (the command line, in its own process): it writes a pattern with O_DIRECT from each CPU
 * (so both queues carry it) and reads it back, syncs, discards one range and write-zeroes another (each then reads
 * as zeros), makes an ext2 filesystem, mounts it, fills it, checks the files after a remount and checks the
 * filesystem with e2fsck. After the guest powers off and the server stops (SIGTERM), the host finds exactly what
 * the guest wrote in the image file. The same test against qemu-storage-daemon checks the test itself.
 */
class RealGuestBlkTest
{
    private static final long DISK = 64L << 20;
    private static final long PATTERN_OFFSET = 32L << 20;
    private static final int PATTERN_BYTES = 16 << 20;
    private static final long DISCARD_OFFSET = 48L << 20;
    private static final long ZEROES_OFFSET = 49L << 20;
    private static final int RANGE = 1 << 20;
    private static final String QSD = "/usr/bin/qemu-storage-daemon";

    @TempDir
    Path dir;

    private static final String INIT = GuestInit.script("-b /dev/vda", """
        echo "GUEST: vda sectors $(cat /sys/block/vda/size) queues $(ls /sys/block/vda/mq | wc -l)"
        yes virtio4j-pattern | head -c 16777216 > /tmp/pattern
        taskset 1 dd if=/tmp/pattern of=/dev/vda bs=4096 seek=8192 count=2048 oflag=direct conv=fsync 2>/dev/null &&
        taskset 2 dd if=/tmp/pattern of=/dev/vda bs=4096 seek=10240 skip=2048 count=2048 oflag=direct conv=fsync 2>/dev/null &&
          echo "GUEST: pattern written"
        taskset 2 dd if=/dev/vda of=/tmp/back bs=4096 skip=8192 count=4096 iflag=direct 2>/dev/null
        cmp /tmp/pattern /tmp/back && echo "GUEST: pattern read back"
        sync && echo "GUEST: synced"
        yes junk | head -c 2097152 > /tmp/junk
        dd if=/tmp/junk of=/dev/vda bs=4096 seek=12288 oflag=direct conv=fsync 2>/dev/null
        head -c 1048576 /dev/zero > /tmp/zeros
        blkdiscard -o 50331648 -l 1048576 /dev/vda && echo "GUEST: discarded"
        dd if=/dev/vda of=/tmp/d bs=4096 skip=12288 count=256 iflag=direct 2>/dev/null
        cmp /tmp/zeros /tmp/d && echo "GUEST: discarded range reads zeros"
        /sbin/blkdiscard -z -o 51380224 -l 1048576 /dev/vda && echo "GUEST: wrote zeroes"
        dd if=/dev/vda of=/tmp/z bs=4096 skip=12544 count=256 iflag=direct 2>/dev/null
        cmp /tmp/zeros /tmp/z && echo "GUEST: zeroed range reads zeros"
        mke2fs -b 4096 /dev/vda 32768 >/dev/null 2>&1 && echo "GUEST: mkfs ok"
        mount -t ext2 /dev/vda /mnt && echo "GUEST: mounted"
        for f in 1 2 3 4 5 6 7 8 9 10 11 12; do yes "file $f" | head -c 1048576 > /mnt/f$f; done
        md5sum /mnt/f* > /tmp/sums
        umount /mnt && mount -t ext2 /dev/vda /mnt && md5sum -c -s /tmp/sums && echo "GUEST: files ok after remount"
        umount /mnt
        /sbin/e2fsck -fn /dev/vda >/tmp/fsck 2>&1 && echo "GUEST: fsck clean"
        echo "GUEST: done"
        poweroff -f
        """);

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"virtio4j serve", "virtio4j serve direct=on", "qemu-storage-daemon"})
    void shouldServeARealLinuxGuestEveryKindOfIo(final String backEnd) throws Exception
    {
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(DISK);
        }
        final GuestImage guest = GuestImage.build(dir,
            List.of("virtio_pci", "virtio_blk", "crc32c_generic", "ext4"), List.of(Path.of("/sbin/blkdiscard"), Path.of("/sbin/e2fsck")), INIT);
        final Path socket = dir.resolve("blk.sock");
        final long start = System.nanoTime();
        final Process server = backEnd.startsWith("virtio4j serve")
            ? startVirtio4j(socket, image, backEnd.endsWith("direct=on") ? ",direct=on" : "") : startQsd(socket, image);
        final BlockingQueue<String> serverOutput = drain(server);
        try
        {
            awaitSocket(socket, server, serverOutput);
            final String console = guest.bootWithBlk(socket, 2, 300);
            for (final String line : new String[] {
                "GUEST: vda sectors " + DISK / 512 + " queues 2", "GUEST: pattern written", "GUEST: pattern read back",
                "GUEST: synced", "GUEST: discarded", "GUEST: discarded range reads zeros", "GUEST: wrote zeroes",
                "GUEST: zeroed range reads zeros", "GUEST: mkfs ok", "GUEST: mounted", "GUEST: files ok after remount",
                "GUEST: fsck clean", "GUEST: done"})
            {
                assertTrue(console.contains(line), () -> "missing '" + line + "' in the guest console:\n" + console);
            }
            assertFalse(console.contains("error, dev vda"), () -> "the guest saw an I/O error:\n" + console);
        }
        finally
        {
            // SIGTERM through the handle: Process.destroy() would also close our end of its output.
            server.toHandle().destroy();
            assertTrue(server.waitFor(60, TimeUnit.SECONDS), backEnd + " did not stop on SIGTERM");
            outputDone(serverOutput);
        }
        System.out.printf("real guest against %s: %.1f s wall time%n", backEnd, (System.nanoTime() - start) / 1e9);
        if (backEnd.startsWith("virtio4j serve"))
        {
            final List<String> lines = new ArrayList<>(serverOutput);
            assertTrue(lines.stream().anyMatch(l -> l.contains("virtio4j serve: stopped")), () -> "no clean stop: " + lines);
        }
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r"))
        {
            final byte[] expected = "virtio4j-pattern\n".repeat(PATTERN_BYTES / 17 + 1).substring(0, PATTERN_BYTES).getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(expected, read(file, PATTERN_OFFSET, PATTERN_BYTES), "the pattern the guest wrote is in the image");
            assertArrayEquals(new byte[RANGE], read(file, DISCARD_OFFSET, RANGE), "the discarded range is zeros in the image");
            assertArrayEquals(new byte[RANGE], read(file, ZEROES_OFFSET, RANGE), "the write-zeroes range is zeros in the image");
            assertEquals(DISK, file.length(), "discard kept the image size");
        }
    }

    /** Waits until the back-end's output reached end of stream (the reader adds an END marker). */
    private static void outputDone(final BlockingQueue<String> output) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!output.contains(END) && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
    }

    private static final String END = "(end of back-end output)";

    private static byte[] read(final RandomAccessFile file, final long offset, final int length) throws IOException
    {
        final byte[] bytes = new byte[length];
        file.seek(offset);
        file.readFully(bytes);
        return bytes;
    }

    private Process startVirtio4j(final Path socket, final Path image, final String extra) throws IOException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
            "-Dvirtio4j.engine.countersDir=" + dir.resolve("counters"),
            "-cp", System.getProperty("java.class.path"), Virtio4j.class.getName(), "serve",
            "--blk", "socket=" + socket + ",path=" + image + ",queues=2,queue-size=128,serial=v4j-real-guest" + extra)
            .redirectErrorStream(true).start();
    }

    private static Process startQsd(final Path socket, final Path image) throws IOException
    {
        if (!Files.exists(Path.of(QSD)))
        {
            throw new IllegalStateException(QSD + " is missing: install qemu-utils");
        }
        return new ProcessBuilder(QSD,
            "--blockdev", "driver=file,node-name=disk,filename=" + image + ",cache.direct=off,discard=unmap",
            "--export", "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=" + socket + ",writable=on,num-queues=2")
            .redirectErrorStream(true).start();
    }

    private static BlockingQueue<String> drain(final Process process)
    {
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() ->
        {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    lines.add(line);
                    System.out.println("[back-end] " + line);
                }
                lines.add(END);
            }
            catch (final IOException e)
            {
                lines.add("(output read failed: " + e + ")");
            }
        });
        return lines;
    }

    private static void awaitSocket(final Path socket, final Process server, final BlockingQueue<String> output) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket))
        {
            if (!server.isAlive() || System.nanoTime() > deadline)
            {
                throw new IllegalStateException("the back-end did not listen on " + socket + ": " + output);
            }
            Thread.sleep(20);
        }
    }
}
