package org.virtio4j.tuning;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The back-end killed (SIGKILL) and restarted under a running Linux guest, while the guest writes and reads back
 * its disk from four processes at once (many requests in flight, completed out of order by io_uring): QEMU reconnects
 * ({@code reconnect=1}), hands the new process the inflight region the old one filled, and the new process
 * resubmits what was in flight. Every round must read back what it wrote, with no I/O error and no hang, and after
 * the guest powers off the image must hold each region's last round intact ({@link DiskRounds}).
 */
class RealGuestReconnectTest
{
    private static final long DISK = 64L << 20;
    private static final int ROUNDS = 60;
    private static final int KILLS = 4;

    @TempDir
    Path dir;


    /**
     * @param signal KILL: the back-end dies with requests in flight (the new one resubmits them); TERM: a graceful
     *               restart or upgrade (the old one drains and flushes first).
     */
    @ParameterizedTest(name = "SIG{0}")
    @ValueSource(strings = {"TERM", "KILL"})
    void shouldLoseAndRepeatNoIoWhenTheBackEndIsStoppedAndRestarted(final String signal) throws Exception
    {
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(DISK);
        }
        final GuestImage guest = GuestImage.build(dir, List.of("virtio_pci", "virtio_blk"), List.of(),
            GuestInit.script("-b /dev/vda", DiskRounds.steps(ROUNDS)));
        final Path socket = dir.resolve("blk.sock");
        final AtomicReference<Process> server = new AtomicReference<>(start(socket, image, 0));
        final List<String> events = new CopyOnWriteArrayList<>();
        final Thread[] killer = new Thread[1];
        try
        {
            ServeProcess.awaitSocket(socket, server.get());
            final String console = bootOrExplain(guest, List.of(
                "-chardev", "socket,id=c0,path=" + socket + ",reconnect=1",
                "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1,queue-size=128"),
                line ->
                {
                    if (line.contains("GUEST: io starting"))
                    {
                        killer[0] = Thread.ofPlatform().start(() -> killAndRestart(socket, image, server, events, signal.equals("KILL")));
                    }
                }, events);
            if (killer[0] != null)
            {
                killer[0].join(TimeUnit.SECONDS.toMillis(60));
            }
            assertEquals(KILLS, events.stream().filter(e -> e.startsWith("restarted")).count(), () -> "restarts: " + events);
            assertTrue(console.contains("GUEST: rounds ok " + ROUNDS), () -> "every round read back what it wrote:\n" + console + "\n" + events);
            assertFalse(console.contains("error, dev vda") || console.contains("I/O error") || console.contains("is not a head"),
                () -> "the guest saw an I/O error:\n" + console);
            assertEquals("", DiskRounds.checkImage(image, ROUNDS), "after power-off the image holds every round's last bytes, none torn or stale");
            int resubmitted = 0;
            for (int i = 1; i <= KILLS; i++)
            {
                final String log = Files.readString(dir.resolve("server" + i + ".log"));
                assertTrue(log.contains("inflight region of 1 queues of 128 entries mapped"),
                    () -> "QEMU handed the inflight region to the restarted back-end:\n" + log);
                resubmitted += (int)log.lines().filter(l -> l.contains("resubmitting")).count();
            }
            final List<String> stalls = events.stream().filter(e -> e.startsWith("stall ")).map(e -> e.substring(6)).toList();
            System.out.printf("back-end stopped with SIG%s %d times under guest I/O; %d restarts found requests in flight and resubmitted them;" +
                " from listening to the first completed request: %s ms%n", signal, KILLS, resubmitted, stalls);
            assertTrue(stalls.stream().allMatch(ms -> Long.parseLong(ms) >= 0 && Long.parseLong(ms) < 5000),
                () -> "every restarted back-end completed a request soon after listening: " + events);
            if (!kill(signal))
            {
                for (int i = 0; i < KILLS; i++)
                {
                    final String log = Files.readString(dir.resolve("server" + i + ".log"));
                    assertTrue(log.contains("virtio4j serve: stopped"), () -> "a clean, drained stop on SIGTERM:\n" + log);
                }
                assertEquals(0, resubmitted, "a graceful stop leaves nothing in flight");
            }
        }
        finally
        {
            server.get().toHandle().destroy();
            server.get().waitFor(60, TimeUnit.SECONDS);
        }
    }

    /** Boots the guest; if it does not finish, says what the back-ends logged and what the test did. */
    private String bootOrExplain(final GuestImage guest, final List<String> devices, final java.util.function.Consumer<String> listener,
        final List<String> events) throws IOException, InterruptedException
    {
        try
        {
            return guest.boot(devices, 1, 180, listener);
        }
        catch (final IllegalStateException e)
        {
            final StringBuilder logs = new StringBuilder(e.getMessage()).append("\ntest: ").append(events);
            for (int i = 0; i <= KILLS; i++)
            {
                final Path log = dir.resolve("server" + i + ".log");
                if (Files.exists(log))
                {
                    logs.append("\n--- back-end ").append(i).append(":\n").append(Files.readString(log));
                }
            }
            throw new IllegalStateException(logs.toString(), e);
        }
    }

    private static boolean kill(final String signal)
    {
        return signal.equals("KILL");
    }

    /** Kills the back-end with SIGKILL a few times while the guest's I/O runs, each time starting a new one. */
    private void killAndRestart(final Path socket, final Path image, final AtomicReference<Process> server, final List<String> events,
        final boolean kill)
    {
        try
        {
            for (int i = 1; i <= KILLS; i++)
            {
                Thread.sleep(1500);
                if (i > 1)
                {
                    events.add("stall " + ServeProcess.counter(dir.resolve("counters" + (i - 1)), "first completion ms after listening (-1: none yet)"));
                }
                final Process old = server.get();
                if (kill)
                {
                    old.destroyForcibly();
                }
                else
                {
                    old.toHandle().destroy();
                }
                if (!old.waitFor(30, TimeUnit.SECONDS))
                {
                    events.add("did not exit " + i);
                }
                events.add("killed " + i);
                final Process next = start(socket, image, i);
                server.set(next);
                ServeProcess.awaitSocket(socket, next);
                events.add("restarted " + i);
            }
        }
        catch (final IOException | InterruptedException | RuntimeException e)
        {
            events.add("failed: " + e);
        }
    }

    private Process start(final Path socket, final Path image, final int generation) throws IOException
    {
        Files.deleteIfExists(socket);
        // O_DIRECT: every request waits for the disk, so a kill finds requests in flight.
        return ServeProcess.start(dir.resolve("counters" + generation), dir.resolve("server" + generation + ".log"),
            "--blk", "socket=" + socket + ",path=" + image + ",direct=on");
    }
}
