package org.virtio4j.devices.blk;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The asynchronous file path of virtio-blk on real files (the test's temporary directory on the disk, and tmpfs),
 * for io_uring and the I/O-thread fallback, buffered and O_DIRECT: data written and read back byte for byte with
 * many requests in flight, discard and write-zeroes, the bounce path, and a scripted I/O layer for what a real
 * kernel rarely does (short transfers, EAGAIN, out-of-order completion, failed fdatasync, a full queue).
 */
class AsyncBlkFileTest
{
    @TempDir
    Path dir;

    static Stream<Arguments> modes()
    {
        return Stream.of(
            Arguments.of(FileDisk.Aio.IO_URING, false, false), Arguments.of(FileDisk.Aio.IO_URING, true, false),
            Arguments.of(FileDisk.Aio.THREADS, false, false), Arguments.of(FileDisk.Aio.THREADS, true, false),
            Arguments.of(FileDisk.Aio.IO_URING, false, true), Arguments.of(FileDisk.Aio.IO_URING, true, true),
            Arguments.of(FileDisk.Aio.THREADS, true, true));
    }

    private Path image(final boolean tmpfs) throws Exception
    {
        if (!tmpfs)
        {
            return dir.resolve("disk.img");
        }
        final Path shm = Files.createTempFile(Path.of("/dev/shm"), "virtio4j-test", ".img");
        shm.toFile().deleteOnExit();
        return shm;
    }

    private static byte pattern(final long sector, final int i)
    {
        return (byte)(sector * 31 + i * 7 + 1);
    }

    private static FileDisk.Options options(final FileDisk.Aio aio, final boolean direct)
    {
        return FileDisk.Options.defaults().withAio(aio).withDirect(direct);
    }

    @ParameterizedTest(name = "aio={0} direct={1} tmpfs={2}")
    @MethodSource("modes")
    void shouldWriteAndReadBackAPatternByteForByteWithManyRequestsInFlight(final FileDisk.Aio aio, final boolean direct,
        final boolean tmpfs) throws Exception
    {
        final Path image = image(tmpfs);
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(aio, direct), null, -1))
        {
            assertEquals(aio == FileDisk.Aio.IO_URING ? "io_uring" : "threads", blk.device.ioKind(0));
            final int requests = 48;
            final int bytes = 8192;
            for (int r = 0; r < requests; r++)
            {
                final long sector = r * 40L + 3 * (r % 2) * 8;
                for (int i = 0; i < bytes; i++)
                {
                    blk.memory.putU8(blk.data(r, 0) + i, pattern(sector, i));
                }
                blk.submit(r, VirtioBlk.T_OUT, sector, bytes, 1 + r % 3, 0);
            }
            blk.run();
            final byte[] disk = Files.readAllBytes(image);
            for (int r = 0; r < requests; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r), "write " + r);
                final long sector = r * 40L + 3 * (r % 2) * 8;
                for (int i = 0; i < bytes; i += 509)
                {
                    assertEquals(pattern(sector, i), disk[(int)(sector * 512 + i)], "file byte " + i + " of request " + r);
                }
            }
            for (int r = 0; r < requests; r++)
            {
                blk.memory.fill(blk.data(r, 0), bytes, (byte)0);
                final long sector = r * 40L + 3 * (r % 2) * 8;
                blk.submit(r, VirtioBlk.T_IN, sector, bytes, 1 + (r + 1) % 4, 0);
            }
            blk.run();
            for (int r = 0; r < requests; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r), "read " + r);
                final long sector = r * 40L + 3 * (r % 2) * 8;
                for (int i = 0; i < bytes; i++)
                {
                    if (blk.memory.getU8(blk.data(r, 0) + i) != (pattern(sector, i) & 0xff))
                    {
                        throw new AssertionError("read " + r + " byte " + i + " differs");
                    }
                }
            }
            assertTrue(blk.usedLength.values().contains(bytes + 1), "a read's used length counts its data and status");
            assertEquals((long)requests * bytes, blk.device.bytesRead());
            assertEquals((long)requests * bytes, blk.device.bytesWritten());
        }
    }

    @ParameterizedTest(name = "aio={0} direct={1} tmpfs={2}")
    @MethodSource("modes")
    void shouldReadDiscardedAndZeroedRangesBackAsZeros(final FileDisk.Aio aio, final boolean direct, final boolean tmpfs) throws Exception
    {
        final Path image = image(tmpfs);
        final byte[] filled = new byte[(int)AsyncBlkFixture.DISK_BYTES];
        Arrays.fill(filled, (byte)0xab);
        Files.write(image, filled);
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(aio, direct), null, -1))
        {
            blk.submitSegment(0, VirtioBlk.T_DISCARD, 64, 16, 0);
            blk.submitSegment(1, VirtioBlk.T_WRITE_ZEROES, 128, 24, VirtioBlk.WRITE_ZEROES_FLAG_UNMAP);
            blk.submitSegment(2, VirtioBlk.T_WRITE_ZEROES, 256, 8, 0);
            blk.run();
            for (int slot = 0; slot < 3; slot++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(slot), "segment request " + slot);
            }
            final byte[] disk = Files.readAllBytes(image);
            assertEquals(filled.length, disk.length, "the file keeps its size");
            assertRange(disk, 128 * 512, 24 * 512, (byte)0);
            assertRange(disk, 256 * 512, 8 * 512, (byte)0);
            assertRange(disk, 64 * 512, 16 * 512, (byte)0);
            assertRange(disk, 80 * 512, 48 * 512, (byte)0xab);
            assertRange(disk, 264 * 512, 1024, (byte)0xab);
        }
    }

    private static void assertRange(final byte[] disk, final int from, final int length, final byte expected)
    {
        for (int i = from; i < from + length; i++)
        {
            if (disk[i] != expected)
            {
                throw new AssertionError("byte " + i + " is " + disk[i] + ", expected " + expected);
            }
        }
    }

    @ParameterizedTest(name = "aio={0}")
    @MethodSource("aios")
    void shouldBounceMisalignedGuestBuffersWithODirectAndKeepTheData(final FileDisk.Aio aio) throws Exception
    {
        final Path image = dir.resolve("direct.img");
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(aio, true), null, -1))
        {
            for (int r = 0; r < 8; r++)
            {
                for (int i = 0; i < 4096; i++)
                {
                    blk.memory.putU8(blk.data(r, 3) + i, pattern(r * 8L, i));
                }
                // An odd guest address: O_DIRECT cannot use it, the bounce buffer can.
                blk.submit(r, VirtioBlk.T_OUT, r * 8L, 4096, 1 + r % 2, 3);
            }
            blk.run();
            final byte[] disk = Files.readAllBytes(image);
            for (int r = 0; r < 8; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r));
                for (int i = 0; i < 4096; i++)
                {
                    assertEquals(pattern(r * 8L, i), disk[r * 4096 + i]);
                }
                blk.memory.fill(blk.data(r, 5), 4096, (byte)0);
                blk.submit(r, VirtioBlk.T_IN, r * 8L, 4096, 2, 5);
            }
            blk.run();
            for (int r = 0; r < 8; r++)
            {
                for (int i = 0; i < 4096; i++)
                {
                    assertEquals(pattern(r * 8L, i) & 0xff, blk.memory.getU8(blk.data(r, 5) + i));
                }
            }
            assertEquals(16, counter(blk, "bounced requests"));
        }
    }

    static Stream<FileDisk.Aio> aios()
    {
        return Stream.of(FileDisk.Aio.IO_URING, FileDisk.Aio.THREADS);
    }

    @Test
    void shouldReadModifyWriteSectorsSmallerThanTheLogicalBlockWithoutLosingNeighbours() throws Exception
    {
        final Path image = dir.resolve("rmw.img");
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(FileDisk.Aio.IO_URING, true).withBlockSize(4096), null, -1))
        {
            // Eight 512-byte writes into the same two 4 KiB blocks, all in flight at once.
            for (int r = 0; r < 8; r++)
            {
                blk.memory.fill(blk.data(r, 0), 512, (byte)(r + 1));
                blk.submit(r, VirtioBlk.T_OUT, r * 2L + 1, 512, 1, 0);
            }
            blk.run();
            final byte[] disk = Files.readAllBytes(image);
            for (int r = 0; r < 8; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r));
                assertRange(disk, (r * 2 + 1) * 512, 512, (byte)(r + 1));
                assertRange(disk, r * 2 * 512, 512, (byte)0);
            }
        }
    }

    @ParameterizedTest(name = "submit-batch={0}")
    @ValueSource(ints = {0, 1, 4})
    void shouldHandOverABatchInGroupsOfSubmitBatchRequests(final int submitBatch) throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        final Path image = dir.resolve("groups.img");
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(FileDisk.Aio.IO_URING, false).withSubmitBatch(submitBatch),
            entries -> scripted, -1))
        {
            for (int r = 0; r < 10; r++)
            {
                blk.submit(r, VirtioBlk.T_IN, r * 8L, 4096, 1, 0);
            }
            blk.run();
            final List<Integer> expected = switch (submitBatch)
            {
                case 0 -> List.of(10);
                case 1 -> List.of(1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
                default -> List.of(4, 4, 2);
            };
            assertEquals(expected, scripted.groups, "ten requests taken in one batch, handed over in groups of " + submitBatch);
            for (int r = 0; r < 10; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r));
            }
        }
    }

    @Test
    void shouldCompleteShortTransfersOutOfOrderAndRetryEagain() throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        scripted.maxBytes = 1000;
        scripted.eagainFirst = true;
        final Path image = dir.resolve("short.img");
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, options(FileDisk.Aio.IO_URING, false), entries -> scripted, -1))
        {
            for (int r = 0; r < 10; r++)
            {
                for (int i = 0; i < 8192; i++)
                {
                    blk.memory.putU8(blk.data(r, 0) + i, pattern(r * 16L, i));
                }
                blk.submit(r, VirtioBlk.T_OUT, r * 16L, 8192, 3, 0);
            }
            blk.run();
            for (int r = 0; r < 10; r++)
            {
                blk.memory.fill(blk.data(r, 0), 8192, (byte)0);
                blk.submit(r, VirtioBlk.T_IN, r * 16L, 8192, 4, 0);
            }
            blk.run();
            for (int r = 0; r < 10; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r));
                for (int i = 0; i < 8192; i++)
                {
                    assertEquals(pattern(r * 16L, i) & 0xff, blk.memory.getU8(blk.data(r, 0) + i), "request " + r + " byte " + i);
                }
            }
            assertTrue(counter(blk, "io retries") >= 20, "the first try of every transfer got EAGAIN and was retried");
            assertTrue(counter(blk, "short transfers") >= 20 * 8, "8 KiB in pieces of at most 1000 bytes");
        }
    }

    @Test
    void shouldFailEveryFlushAfterAFailedFdatasyncUntilTheDeviceIsReset() throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        scripted.failFsync = true;
        try (AsyncBlkFixture blk = new AsyncBlkFixture(dir.resolve("flush.img"), options(FileDisk.Aio.IO_URING, false), entries -> scripted, -1))
        {
            blk.submit(0, VirtioBlk.T_FLUSH, 0, 0, 0, 0);
            blk.run();
            assertEquals(VirtioBlk.S_IOERR, blk.statusOf(0));
            scripted.failFsync = false;
            blk.submit(1, VirtioBlk.T_FLUSH, 0, 0, 0, 0);
            blk.run();
            assertEquals(VirtioBlk.S_IOERR, blk.statusOf(1), "the error is not forgotten after one report");
            assertEquals(1, scripted.fsyncs, "the second FLUSH failed without pretending to sync");
            assertEquals(1, counter(blk, "flush errors"));
            blk.device.reset();
            blk.activate(-1);
            blk.submit(2, VirtioBlk.T_FLUSH, 0, 0, 0, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(2), "a reset device syncs again");
        }
    }

    @Test
    void shouldKeepEveryRequestWhenTheSubmissionQueueIsFull() throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        scripted.space = 2;
        try (AsyncBlkFixture blk = new AsyncBlkFixture(dir.resolve("full.img"), options(FileDisk.Aio.IO_URING, false), entries -> scripted, -1))
        {
            for (int r = 0; r < 32; r++)
            {
                blk.memory.fill(blk.data(r, 0), 4096, (byte)(r + 1));
                blk.submit(r, VirtioBlk.T_OUT, r * 8L, 4096, 1, 0);
            }
            blk.run();
            final byte[] disk = Files.readAllBytes(blk.image);
            for (int r = 0; r < 32; r++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(r));
                assertRange(disk, r * 4096, 4096, (byte)(r + 1));
            }
            assertTrue(counter(blk, "deferred operations") > 0, "operations waited for room");
        }
    }

    @Test
    void shouldFallBackToIoThreadsWhenIoUringIsRefused() throws Exception
    {
        final FileDisk.RingFactory refused = entries ->
        {
            throw new ErrnoException("io_uring_setup", Errno.EPERM, "simulated seccomp refusal");
        };
        try (AsyncBlkFixture blk = new AsyncBlkFixture(dir.resolve("eperm.img"), options(FileDisk.Aio.IO_URING, false), refused, -1))
        {
            assertEquals("threads", blk.device.ioKind(0));
            assertEquals(1, counter(blk, "aio fallbacks"));
            blk.memory.fill(blk.data(0, 0), 4096, (byte)0x5a);
            blk.submit(0, VirtioBlk.T_OUT, 8, 4096, 1, 0);
            blk.run();
            blk.memory.fill(blk.data(1, 0), 4096, (byte)0);
            blk.submit(1, VirtioBlk.T_IN, 8, 4096, 1, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(1));
            assertEquals(0x5a, blk.memory.getU8(blk.data(1, 0) + 4095));
        }
    }

    @Test
    void shouldWriteThroughWhenTheDriverDidNotTakeFlush() throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        try (AsyncBlkFixture blk = new AsyncBlkFixture(dir.resolve("wt.img"), options(FileDisk.Aio.IO_URING, false), entries -> scripted,
            AsyncBlkFixture.allFeaturesBut(VirtioBlk.F_FLUSH)))
        {
            blk.submitSegment(0, VirtioBlk.T_WRITE_ZEROES, 0, 8, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(0));
            assertEquals(1, scripted.fsyncs, "write-zeroes is durable before it completes");
            blk.submit(1, VirtioBlk.T_FLUSH, 0, 0, 0, 0);
            blk.run();
            assertEquals(VirtioBlk.S_UNSUPP, blk.statusOf(1), "FLUSH was not negotiated");
        }
    }

    @Test
    void shouldReadZerosPastTheEndOfAFileThatShrankAndFailWritesToAReadOnlyFile() throws Exception
    {
        final Path image = dir.resolve("shrunk.img");
        final byte[] ones = new byte[(int)AsyncBlkFixture.DISK_BYTES];
        Arrays.fill(ones, (byte)1);
        Files.write(image, ones);
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, new FileDisk.Options(true, false, FileDisk.Aio.IO_URING, 0, FileDisk.Sync.AUTO, 0, FileDisk.Options.DEFAULT_SUBMIT_BATCH), null, -1))
        {
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
            {
                file.setLength(4096);
            }
            blk.memory.fill(blk.data(0, 0), 8192, (byte)0x77);
            blk.submit(0, VirtioBlk.T_IN, 0, 8192, 1, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(0));
            assertEquals(1, blk.memory.getU8(blk.data(0, 0) + 4095));
            assertEquals(0, blk.memory.getU8(blk.data(0, 0) + 4096), "past the end of the file: zeros");
            blk.submit(1, VirtioBlk.T_OUT, 0, 4096, 1, 0);
            blk.run();
            assertEquals(VirtioBlk.S_IOERR, blk.statusOf(1), "the kernel refused the write (EBADF): IOERR, no exception");
            assertEquals(1, counter(blk, "io errors"));
        }
    }

    @Test
    void shouldServeCachedReadsWithoutTheRingWhenNowaitIsOn() throws Exception
    {
        final Path image = dir.resolve("nowait.img");
        final byte[] content = new byte[(int)AsyncBlkFixture.DISK_BYTES];
        Arrays.fill(content, (byte)9);
        Files.write(image, content);
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, FileDisk.Options.defaults().withSync(FileDisk.Sync.NOWAIT),
            entries -> scripted, -1))
        {
            blk.submit(0, VirtioBlk.T_IN, 0, 4096, 1, 0);
            blk.run();
            assertEquals(9, blk.memory.getU8(blk.data(0, 0)));
            assertEquals(1, counter(blk, "sync transfers"));
            assertEquals(0, scripted.submitted, "a page-cache hit never reaches the ring");
        }
    }

    @Test
    void shouldCopyStraightToAndFromAMemoryFileSystemWithoutTheRing() throws Exception
    {
        final ScriptedBlkIo scripted = new ScriptedBlkIo();
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image(true), FileDisk.Options.defaults(), entries -> scripted, -1))
        {
            blk.memory.fill(blk.data(0, 0), 8192, (byte)0x3c);
            blk.submit(0, VirtioBlk.T_OUT, 16, 8192, 2, 0);
            blk.run();
            blk.memory.fill(blk.data(1, 0), 8192, (byte)0);
            blk.submit(1, VirtioBlk.T_IN, 16, 8192, 3, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(1));
            assertEquals(0x3c, blk.memory.getU8(blk.data(1, 0) + 8191));
            assertEquals(0, scripted.submitted, "tmpfs never waits for a device: no ring needed");
            assertEquals(2, counter(blk, "sync transfers"));
        }
    }

    @Test
    void shouldFailARequestWhoseMappedTmpfsPagesWereTruncatedAwayAndGoOn() throws Exception
    {
        final Path image = image(true);
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, FileDisk.Options.defaults(), null, -1))
        {
            assertTrue(blk.disk.mapping() != null, "a tmpfs file is mapped");
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
            {
                file.setLength(4096);
            }
            blk.submit(0, VirtioBlk.T_IN, 64, 4096, 1, 0);
            blk.run();
            assertEquals(VirtioBlk.S_IOERR, blk.statusOf(0), "the mapping faulted: IOERR, not an error on the actor");
            blk.submit(1, VirtioBlk.T_IN, 0, 4096, 1, 0);
            blk.run();
            assertEquals(VirtioBlk.S_OK, blk.statusOf(1), "what is still in the file is served");
        }
    }

    private static long counter(final AsyncBlkFixture blk, final String name)
    {
        final int index = blk.device.counterNames().indexOf(name);
        assertTrue(index >= 0, "counter " + name);
        return blk.device.counterValue(index);
    }
}
