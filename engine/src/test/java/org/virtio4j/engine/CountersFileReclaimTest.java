package org.virtio4j.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A killed process's counters file is deleted by the next start; a live process's file and other files stay. */
class CountersFileReclaimTest
{
    @TempDir
    Path dir;

    private static long exitedPid() throws Exception
    {
        final Process process = new ProcessBuilder("true").start();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        return process.pid();
    }

    @Test
    void shouldDeleteTheFilesOfExitedProcessesWhenANewFileIsCreated() throws Exception
    {
        final Path live = dir.resolve("live");
        final byte[] bytes;
        try (CountersFile own = CountersFile.create(live, 64 * 1024))
        {
            bytes = Files.readAllBytes(own.path());
        }
        final long dead = exitedPid();
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putLong(16, dead);
        final Path killed = dir.resolve("virtio4j-" + dead + ".counters");
        Files.write(killed, bytes);
        final Path notOurs = dir.resolve("virtio4j-1.counters");
        Files.write(notOurs, new byte[] {1, 2, 3});

        try (CountersFile file = CountersFile.create(dir, 64 * 1024))
        {
            assertFalse(Files.exists(killed), "the killed process's file is reclaimed");
            assertTrue(Files.exists(file.path()), "this process's own file is made");
            assertTrue(Files.exists(notOurs), "a file that is not a counters file is left alone");
            assertEquals(0, CountersFile.reclaimStale(dir), "a live process's file is not stale");
            assertTrue(Files.exists(file.path()));
        }
    }
}
