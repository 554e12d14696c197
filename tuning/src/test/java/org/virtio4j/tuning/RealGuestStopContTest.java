package org.virtio4j.tuning;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QEMU's {@code stop} and {@code cont} (what every pause, snapshot and migration does) while a real Linux guest
 * writes and reads back its disk: the back-end must keep each ring's position across the stop, so that after
 * {@code cont} the guest's I/O goes on and every round reads back what it wrote. Run against virtio4j serve and,
 * to check the test itself, against qemu-storage-daemon.
 */
class RealGuestStopContTest
{
    private static final long DISK = 64L << 20;
    private static final int ROUNDS = 40;
    private static final int CYCLES = 3;

    @TempDir
    Path dir;

    private static final String INIT = GuestInit.script("-b /dev/vda", """
        echo "GUEST: io starting"
        ok=0; r=0
        while [ $r -lt @ROUNDS@ ]; do
          yes "round $r" | head -c 2097152 > /tmp/p
          dd if=/tmp/p of=/dev/vda bs=65536 seek=$((r % 16 * 32)) oflag=direct 2>/dev/null
          dd if=/dev/vda of=/tmp/b bs=65536 skip=$((r % 16 * 32)) count=32 iflag=direct 2>/dev/null
          cmp -s /tmp/p /tmp/b && ok=$((ok+1))
          r=$((r+1))
        done
        echo "GUEST: rounds ok $ok"
        echo "GUEST: done"
        poweroff -f
        """);

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"virtio4j serve", "qemu-storage-daemon"})
    void shouldResumeIoAfterStopAndContWithoutLosingTheRingPosition(final String backEnd) throws Exception
    {
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(DISK);
        }
        final GuestImage guest = GuestImage.build(dir, List.of("virtio_pci", "virtio_blk"), List.of(),
            INIT.replace("@ROUNDS@", String.valueOf(ROUNDS)));
        final Path socket = dir.resolve("blk.sock");
        final Path qmp = dir.resolve("qmp.sock");
        final Process server = backEnd.equals("virtio4j serve") ? startVirtio4j(socket, image) : startQsd(socket, image);
        final List<String> replies = new CopyOnWriteArrayList<>();
        final Thread[] driver = new Thread[1];
        try
        {
            ServeProcess.awaitSocket(socket, server);
            final String console = guest.boot(List.of("-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-chardev", "socket,id=c0,path=" + socket, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1,queue-size=128"),
                1, 180, line ->
                {
                    if (line.contains("GUEST: io starting"))
                    {
                        driver[0] = Thread.ofPlatform().start(() -> stopAndCont(qmp, replies));
                    }
                });
            if (driver[0] != null)
            {
                driver[0].join(TimeUnit.SECONDS.toMillis(60));
            }
            assertEquals(2 * CYCLES + 1, replies.stream().filter(r -> r.contains("\"return\"")).count(),
                () -> "QMP answered every command: " + replies);
            assertTrue(console.contains("GUEST: rounds ok " + ROUNDS), () -> "every round read back what it wrote:\n" + console);
            assertFalse(console.contains("error, dev vda") || console.contains("I/O error"), () -> "the guest saw an I/O error:\n" + console);
        }
        finally
        {
            server.toHandle().destroy();
            assertTrue(server.waitFor(60, TimeUnit.SECONDS), backEnd + " did not stop on SIGTERM");
        }
    }

    /** Pauses and resumes the VM a few times while the guest's I/O runs, recording each QMP reply. */
    private static void stopAndCont(final Path qmpSocket, final List<String> replies)
    {
        try (Qmp qmp = Qmp.connect(qmpSocket))
        {
            replies.add("qmp_capabilities: {\"return\": {}}");
            for (int i = 0; i < CYCLES; i++)
            {
                Thread.sleep(700);
                replies.add("stop: " + qmp.execute("stop"));
                Thread.sleep(500);
                replies.add("cont: " + qmp.execute("cont"));
            }
        }
        catch (final IOException | InterruptedException e)
        {
            replies.add("failed: " + e);
        }
    }

    private Process startVirtio4j(final Path socket, final Path image) throws IOException
    {
        return ServeProcess.start(dir.resolve("counters"), dir.resolve("server.log"), "--blk", "socket=" + socket + ",path=" + image);
    }

    private Process startQsd(final Path socket, final Path image) throws IOException
    {
        return new ProcessBuilder("/usr/bin/qemu-storage-daemon",
            "--blockdev", "driver=file,node-name=disk,filename=" + image + ",cache.direct=off",
            "--export", "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=" + socket + ",writable=on,num-queues=1")
            .redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start();
    }
}
