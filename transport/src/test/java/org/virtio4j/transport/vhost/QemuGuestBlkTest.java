package org.virtio4j.transport.vhost;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.FileBackend;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Linux guest (Debian's kernel under QEMU 7.2, TCG) uses a virtio-blk disk served by our vhost-user
 * back-end: QEMU's whole session (features, memory as ADD_MEM_REG, rings started, stopped with GET_VRING_BASE and
 * started again), then the guest writes a pattern with O_DIRECT and fsync, reads it back, checks the serial and
 * the size, discards a range, and powers off. The host then finds the pattern in the image file. A second boot
 * against the same server (the front-end reconnecting) reads the pattern the first one wrote.
 */
class QemuGuestBlkTest
{
    private static final long DISK = 64L << 20;
    private static final long PATTERN_OFFSET = 1L << 20;
    private static final int PATTERN_BYTES = 1 << 20;

    @TempDir
    Path dir;

    private static String init(final String body)
    {
        return """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
              insmod /lib/modules/$m.ko || echo "GUEST: insmod $m failed"
            done
            i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            echo "GUEST: vda sectors $(cat /sys/block/vda/size) serial $(cat /sys/block/vda/serial)"
            yes virtio4j-pattern | head -c 1048576 > /tmp/pattern
            if [ "$(cat /proc/cmdline | grep -c second)" = "0" ]; then
            """ + body + """
            else
              dd if=/dev/vda of=/tmp/back bs=4096 skip=256 count=256 iflag=direct 2>/dev/null
              cmp /tmp/pattern /tmp/back && echo "GUEST: persisted ok"
            fi
            echo "GUEST: done"
            poweroff -f
            """;
    }

    private static final String FIRST_BOOT = """
              dd if=/tmp/pattern of=/dev/vda bs=4096 seek=256 oflag=direct conv=fsync 2>/dev/null && echo "GUEST: write ok"
              dd if=/dev/vda of=/tmp/back bs=4096 skip=256 count=256 iflag=direct 2>/dev/null
              cmp /tmp/pattern /tmp/back && echo "GUEST: readback ok"
              yes discard-me | head -c 65536 > /tmp/junk
              dd if=/tmp/junk of=/dev/vda bs=4096 seek=4096 oflag=direct conv=fsync 2>/dev/null
              blkdiscard -o 16777216 -l 65536 /dev/vda && echo "GUEST: discard ok"
              dd if=/dev/vda of=/tmp/zero bs=4096 skip=4096 count=16 iflag=direct 2>/dev/null
              head -c 65536 /dev/zero > /tmp/zeros
              cmp /tmp/zeros /tmp/zero && echo "GUEST: discarded range reads zeros"
              sync && echo "GUEST: sync ok"
            """;

    @Test
    void shouldServeARealLinuxGuestAcrossRingRestartsAndReconnects() throws Exception
    {
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(DISK);
        }
        final GuestImage guest = GuestImage.build(dir, init(FIRST_BOOT));
        final Path socket = dir.resolve("blk.sock");
        try (FileBackend backend = new FileBackend(image, false);
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff")
                .countersDir(dir.resolve("counters")));
            VhostUserServer server = new VhostUserServer(socket, "blk0",
                new BlkDevice(backend, BlkOptions.defaults().withSerial("v4j-guest-test").withQueueSize(128)), engine))
        {
            final String first = guest.bootWithBlk(socket, 1, 120);
            assertTrue(first.contains("GUEST: vda sectors " + DISK / 512 + " serial v4j-guest-test"), first);
            assertTrue(first.contains("GUEST: write ok"), first);
            assertTrue(first.contains("GUEST: readback ok"), first);
            assertTrue(first.contains("GUEST: discard ok"), first);
            assertTrue(first.contains("GUEST: discarded range reads zeros"), first);
            assertTrue(first.contains("GUEST: sync ok"), first);
            assertTrue(first.contains("GUEST: done"), first);
            assertFalse(first.contains("error, dev vda"), "the guest saw an I/O error:\n" + first);
            assertEquals(0, server.refusedMessages(), "QEMU's session had no refused message");

            final byte[] expected = Arrays.copyOf(repeat("virtio4j-pattern\n"), PATTERN_BYTES);
            final byte[] onDisk = new byte[PATTERN_BYTES];
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r"))
            {
                file.seek(PATTERN_OFFSET);
                file.readFully(onDisk);
            }
            assertArrayEquals(expected, onDisk, "the guest's writes reached the image file");

            final GuestImage second = GuestImage.build(Files.createDirectories(dir.resolve("second")), init(FIRST_BOOT));
            final String secondRun = second.bootWithBlk(socket, 1, 120, "second");
            assertTrue(secondRun.contains("GUEST: persisted ok"), secondRun);
            assertEquals(2, server.connections(), "the second QEMU reconnected to the same server");
        }
    }

    private static byte[] repeat(final String line)
    {
        return line.repeat(PATTERN_BYTES / line.length() + 1).getBytes(StandardCharsets.US_ASCII);
    }
}
