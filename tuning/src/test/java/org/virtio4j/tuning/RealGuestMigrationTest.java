package org.virtio4j.tuning;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration of a running Linux guest whose disk virtio4j serves: two QEMU processes on this host, the source
 * and a destination started with {@code -incoming}, each with its own {@code virtio4j serve} on the same image
 * file. The guest writes and reads back its disk with O_DIRECT all through a slowed-down {@code migrate}; the
 * source back-end logs every page it stores into (read data, status bytes, used rings) so that QEMU re-sends them,
 * and completes every request in flight before it answers GET_VRING_BASE. The destination waits paused after the
 * migration ({@code -S}, as libvirt runs it): the two guests' memories must then be identical page for page, before
 * the destination runs on. The guest must go on on the destination with every round reading back what it wrote,
 * and the image must hold every round's last bytes.
 */
class RealGuestMigrationTest
{
    private static final long DISK = 64L << 20;
    private static final int ROUNDS = 60;
    /** Rounds the guest completes on the source before the migration starts. */
    private static final int ROUNDS_BEFORE = 4;
    /** The guests' memory, as {@link GuestImage} starts them. */
    private static final long GUEST_RAM = 512L << 20;
    private static final int ATTEMPTS = 3;

    @TempDir
    Path base;
    /** The current attempt's directory. */
    private Path dir;
    private String migrationStatus = "";

    /** Pages that differ between the two guests' memories once both are paused. */
    private static final class MemoriesDiffer extends AssertionError
    {
        private static final long serialVersionUID = 1L;

        MemoriesDiffer(final List<Long> pages)
        {
            super("guest pages that differ between source and destination after the migration: " +
                pages.stream().map(p -> "0x" + Long.toHexString(p)).toList());
        }
    }

    /**
     * Retries, for a memory mismatch only: under TCG, QEMU 7.2 was seen here to leave scattered single pages
     * unsent (in 2 of 9 migrations, the first of the suite in a fresh clone both times), some in the guest kernel's
     * image, which no device writes; the next attempt matched. Logging that our back-end skips fails every attempt
     * (checked by disabling it: 15 data pages differ).
     */
    @Test
    void shouldMigrateAGuestWhileItWritesAndReadsBackItsDisk() throws Exception
    {
        for (int number = 1; ; number++)
        {
            try
            {
                attempt(number);
                return;
            }
            catch (final MemoriesDiffer e)
            {
                if (number == ATTEMPTS)
                {
                    throw e;
                }
                System.out.println("migration attempt " + number + ": " + e.getMessage() + "; once more");
            }
        }
    }

    private void attempt(final int number) throws Exception
    {
        dir = Files.createDirectories(base.resolve("attempt-" + number));
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(DISK);
        }
        final GuestImage guest = GuestImage.build(dir, List.of("virtio_pci", "virtio_blk"), List.of(),
            GuestInit.script("-b /dev/vda", DiskRounds.steps(ROUNDS, true)));
        final Path socketA = dir.resolve("blk-a.sock");
        final Path socketB = dir.resolve("blk-b.sock");
        final Process serveA = ServeProcess.start(dir.resolve("counters-a"), dir.resolve("serve-a.log"), "--blk", "socket=" + socketA + ",path=" + image + ",direct=on");
        final Process serveB = ServeProcess.start(dir.resolve("counters-b"), dir.resolve("serve-b.log"), "--blk", "socket=" + socketB + ",path=" + image + ",direct=on");
        final CountDownLatch running = new CountDownLatch(ROUNDS_BEFORE);
        final List<String> steps = new ArrayList<>();
        try
        {
            ServeProcess.awaitSocket(socketA, serveA);
            ServeProcess.awaitSocket(socketB, serveB);
            try (RunningGuest source = guest.start(arguments(socketA, "src", List.of()), 1, line ->
                {
                    if (line.matches(".*GUEST: round \\d+ ok.*"))
                    {
                        running.countDown();
                    }
                });
                RunningGuest destination = guest.start(arguments(socketB, "dst", List.of("-S", "-incoming", "unix:" + dir.resolve("mig.sock"))), 1, line -> { }))
            {
                assertTrue(running.await(240, TimeUnit.SECONDS), () -> "the guest's I/O did not start on the source:\n" + source.output());
                final long started = System.nanoTime();
                migrate(steps);
                final long migrated = System.nanoTime();
                final String console;
                try
                {
                    console = destination.awaitPowerOff(400);
                }
                catch (final IllegalStateException e)
                {
                    throw new IllegalStateException(e.getMessage() + "\nsteps: " + steps + "\n--- source:\n" + source.output() +
                        "\n--- serve A:\n" + Files.readString(dir.resolve("serve-a.log")) + "\n--- serve B:\n" +
                        Files.readString(dir.resolve("serve-b.log")), e);
                }
                final String all = source.output() + console;
                final String image0 = DiskRounds.checkImage(image, ROUNDS);
                final String logA = Files.readString(dir.resolve("serve-a.log"));
                final String logB = Files.readString(dir.resolve("serve-b.log"));
                final String explain = "\nsteps: " + steps + "\n--- source:\n" + source.output() + "\n--- destination:\n" + console +
                    "\n--- serve A:\n" + logA + "\n--- serve B:\n" + logB;
                assertTrue(console.contains("GUEST: rounds ok " + ROUNDS), () -> "every round read back what it wrote" + explain);
                assertTrue(console.contains("GUEST: round " + (ROUNDS - 1) + " ok") && !console.contains("GUEST: round 0 ok"),
                    () -> "the guest went on on the destination" + explain);
                assertFalse(all.contains("BAD") || all.contains("I/O error") || all.contains("is not a head"), () -> "a round failed" + explain);
                assertEquals("", image0, () -> "the image holds every round's last bytes" + explain);
                assertTrue(logA.contains("dirty log of") && logA.contains("dirty logging on"), () -> "the source logged its stores" + explain);
                final String stoppedAt = between(logA, "vring 0 stopped at avail index ", ",");
                assertTrue(logB.contains("vring 0 resumes at avail index " + stoppedAt),
                    () -> "the destination resumed where the source stopped (" + stoppedAt + ")" + explain);
                System.out.printf("migrated a guest doing disk I/O in %.1f s, %d rounds on the source, %d on the destination;" +
                        " source stopped at avail index %s after draining in %s us; %s%n",
                    (migrated - started) / 1e9, source.output().split("GUEST: round ", -1).length - 1, console.split("GUEST: round ", -1).length - 1,
                    stoppedAt, between(logA, "requests in flight drained in ", " us"), migrationStatus);
            }
        }
        finally
        {
            serveA.toHandle().destroy();
            serveB.toHandle().destroy();
            serveA.waitFor(60, TimeUnit.SECONDS);
            serveB.waitFor(60, TimeUnit.SECONDS);
        }
    }

    private List<String> arguments(final Path socket, final String name, final List<String> more)
    {
        final List<String> arguments = new ArrayList<>(List.of("-qmp", "unix:" + dir.resolve(name + "-qmp.sock") + ",server=on,wait=off",
            "-chardev", "socket,id=c0,path=" + socket, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1,queue-size=128"));
        arguments.addAll(more);
        return arguments;
    }

    /**
     * Migrates over a Unix socket: slowly at first (10 MB/s, so that many rounds of guest I/O run while pages are
     * logged and sent), then at full speed with a downtime the emulated guest can meet.
     */
    private void migrate(final List<String> steps) throws IOException, InterruptedException
    {
        try (Qmp qmp = Qmp.connect(dir.resolve("src-qmp.sock")))
        {
            steps.add(qmp.execute("migrate-set-parameters", "{\"max-bandwidth\": 10485760}"));
            steps.add(qmp.execute("migrate", "{\"uri\": \"unix:" + dir.resolve("mig.sock") + "\"}"));
            final long start = System.nanoTime();
            final long deadline = start + TimeUnit.SECONDS.toNanos(240);
            boolean fast = false;
            String status = "";
            while (System.nanoTime() < deadline)
            {
                status = qmp.execute("query-migrate");
                if (status.contains("\"completed\"") || status.contains("\"failed\"") || status.isEmpty())
                {
                    break;
                }
                if (!fast && System.nanoTime() - start > TimeUnit.SECONDS.toNanos(8))
                {
                    steps.add(qmp.execute("migrate-set-parameters", "{\"max-bandwidth\": 4294967296, \"downtime-limit\": 3000}"));
                    fast = true;
                }
                Thread.sleep(500);
            }
            steps.add(status);
            migrationStatus = status;
            assertTrue(status.contains("\"completed\""), () -> "migration did not complete: " + steps);
            compareMemoryAndResume(qmp, steps);
            steps.add(qmp.execute("quit"));
        }
    }

    /**
     * Both guests are paused now (the destination was started with {@code -S}, as libvirt starts it, and waits
     * for {@code cont}): their memories must be identical page for page. A page the source back-end stored into
     * without logging it (read data, a status byte, a used ring entry) would have been sent before that store and
     * differ here. Then the destination runs on.
     */
    private void compareMemoryAndResume(final Qmp source, final List<String> steps) throws IOException, InterruptedException
    {
        final Path sourceRam = dir.resolve("src.mem");
        final Path destinationRam = dir.resolve("dst.mem");
        try (Qmp destination = Qmp.connect(dir.resolve("dst-qmp.sock")))
        {
            String state = "";
            for (int i = 0; i < 100 && !state.contains("\"paused\""); i++)
            {
                Thread.sleep(100);
                state = destination.execute("query-status");
            }
            assertTrue(state.contains("\"paused\""), () -> "the destination did not finish loading: " + steps);
            steps.add(source.execute("pmemsave", "{\"val\": 0, \"size\": " + GUEST_RAM + ", \"filename\": \"" + sourceRam + "\"}"));
            steps.add(destination.execute("pmemsave", "{\"val\": 0, \"size\": " + GUEST_RAM + ", \"filename\": \"" + destinationRam + "\"}"));
            final List<Long> differing = differingPages(sourceRam, destinationRam);
            Files.delete(sourceRam);
            Files.delete(destinationRam);
            if (!differing.isEmpty())
            {
                throw new MemoriesDiffer(differing);
            }
            steps.add(destination.execute("cont"));
        }
    }

    /** @return the guest physical addresses of the 4 KiB pages whose bytes differ (the first 100). */
    private static List<Long> differingPages(final Path a, final Path b) throws IOException
    {
        final List<Long> pages = new ArrayList<>();
        try (FileChannel left = FileChannel.open(a); FileChannel right = FileChannel.open(b); Arena arena = Arena.ofConfined())
        {
            assertEquals(left.size(), right.size(), "memory dump sizes");
            final MemorySegment x = left.map(FileChannel.MapMode.READ_ONLY, 0, left.size(), arena);
            final MemorySegment y = right.map(FileChannel.MapMode.READ_ONLY, 0, right.size(), arena);
            for (long page = 0; page < x.byteSize() && pages.size() < 100; page += 4096)
            {
                if (MemorySegment.mismatch(x, page, page + 4096, y, page, page + 4096) >= 0)
                {
                    pages.add(page);
                }
            }
        }
        return pages;
    }

    private static String between(final String text, final String before, final String after)
    {
        final int start = text.lastIndexOf(before);
        if (start < 0)
        {
            return "?";
        }
        final int from = start + before.length();
        final int end = text.indexOf(after, from);
        return end < 0 ? text.substring(from) : text.substring(from, end);
    }
}
