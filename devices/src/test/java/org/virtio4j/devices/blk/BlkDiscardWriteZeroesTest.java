package org.virtio4j.devices.blk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.virtio4j.devices.testing.TestChains;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.virtio4j.devices.blk.BlkHarness.CAPACITY;
import static org.virtio4j.devices.blk.BlkHarness.MEMORY;
import static org.virtio4j.devices.blk.BlkHarness.SECTORS;
import static org.virtio4j.devices.blk.BlkHarness.SEGMENTS;
import static org.virtio4j.devices.blk.BlkHarness.pattern;
import static org.virtio4j.virtio.VirtioBlk.S_IOERR;
import static org.virtio4j.virtio.VirtioBlk.S_OK;
import static org.virtio4j.virtio.VirtioBlk.S_UNSUPP;
import static org.virtio4j.virtio.VirtioBlk.T_DISCARD;
import static org.virtio4j.virtio.VirtioBlk.T_WRITE_ZEROES;
import static org.virtio4j.virtio.VirtioBlk.WRITE_ZEROES_FLAG_UNMAP;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * virtio-blk DISCARD and WRITE_ZEROES: ranges zeroed, UNMAP, features, segment lengths, overflow, sectors, flags,
 * and our additions: every segment is checked before any is applied, and the limits advertised in config space
 * (max_discard_seg, max_discard_sectors, max_write_zeroes_seg, max_write_zeroes_sectors) are enforced with the
 * statuses {@link BlkError#LIMIT_EXCEEDED} documents (UNSUPP for segments, IOERR for sectors).
 */
class BlkDiscardWriteZeroesTest
{
    @TempDir
    Path dir;

    private static void assertDone(final BlkHarness blk, final int status, final int used)
    {
        assertDone(blk, status, used, "");
    }

    private static void assertDone(final BlkHarness blk, final int status, final int used, final String what)
    {
        assertEquals(status, blk.status(), "status byte " + what);
        assertEquals(1, used, "used length: the status byte only " + what);
    }

    private static byte[] diskPattern(final int seed, final long offset, final int length)
    {
        return Arrays.copyOfRange(pattern((int)CAPACITY, seed), (int)offset, (int)offset + length);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldZeroExactlyTheRangeOfAWriteZeroes(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(1);
            blk.segment(SEGMENTS, 2, 3, 0);
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            assertArrayEquals(new byte[3 * 512], blk.disk(2 * 512, 3 * 512));
            assertArrayEquals(diskPattern(1, 512, 512), blk.disk(512, 512), "the sector before");
            assertArrayEquals(diskPattern(1, 5 * 512, 512), blk.disk(5 * 512, 512), "the sector after");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldZeroAWriteZeroesThatMayUnmapAndKeepTheDiskSize(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(2);
            blk.segment(SEGMENTS, 8, 16, WRITE_ZEROES_FLAG_UNMAP);
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            assertArrayEquals(new byte[16 * 512], blk.disk(8 * 512, 16 * 512));
            assertArrayEquals(diskPattern(2, 24 * 512, 512), blk.disk(24 * 512, 512));
            if (blk.image != null)
            {
                assertEquals(CAPACITY, Files.size(blk.image), "a punched hole keeps the file size");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldDiscardToZerosAndKeepTheDiskSize(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(3);
            blk.segment(SEGMENTS, 8, 8, 0);
            assertDone(blk, S_OK, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)));
            assertArrayEquals(new byte[8 * 512], blk.disk(8 * 512, 8 * 512));
            assertArrayEquals(diskPattern(3, 7 * 512, 512), blk.disk(7 * 512, 512));
            assertArrayEquals(diskPattern(3, 16 * 512, 512), blk.disk(16 * 512, 512));
            if (blk.image != null)
            {
                assertEquals(CAPACITY, Files.size(blk.image), "a punched hole keeps the file size");
            }
        }
    }

    @Test
    void shouldApplyEverySegmentOfEveryDescriptor() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(4);
            blk.segment(SEGMENTS, 1, 1, 0);
            blk.segment(SEGMENTS + 16, 10, 2, WRITE_ZEROES_FLAG_UNMAP);
            blk.segment(SEGMENTS + 0x100, SECTORS - 1, 1, 0);
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 32), readable(SEGMENTS + 0x100, 16)));
            assertArrayEquals(new byte[512], blk.disk(512, 512));
            assertArrayEquals(new byte[1024], blk.disk(10 * 512, 1024));
            assertArrayEquals(new byte[512], blk.disk(CAPACITY - 512, 512));
            assertArrayEquals(diskPattern(4, 0, 512), blk.disk(0, 512));
            assertArrayEquals(diskPattern(4, 2 * 512, 8 * 512), blk.disk(2 * 512, 8 * 512));
        }
    }

    @Test
    void shouldSucceedWithNoSegments() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            assertDone(blk, S_OK, blk.submit(T_DISCARD, 0));
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0));
        }
    }

    @Test
    void shouldAnswerUnsupportedWithoutTheFeature() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), VirtioFeatures.bit(VirtioBlk.F_FLUSH)))
        {
            blk.fillDisk(5);
            blk.segment(SEGMENTS, 0, 4, 0);
            assertDone(blk, S_UNSUPP, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)));
            assertDone(blk, S_UNSUPP, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            blk.executor.setFeatures(VirtioFeatures.bit(VirtioBlk.F_DISCARD));
            assertDone(blk, S_UNSUPP, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)), "DISCARD does not imply WRITE_ZEROES");
            assertArrayEquals(diskPattern(5, 0, 2048), blk.disk(0, 2048));
            assertEquals(3, blk.executor.errors(BlkError.UNSUPPORTED));
        }
    }

    @Test
    void shouldRefuseSegmentDescriptorsThatAreNotMultiplesOfSixteenBytes() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(6);
            blk.segment(SEGMENTS, 0, 4, 0);
            blk.segment(SEGMENTS + 16, 4, 4, 0);
            for (final int length : new int[] {1, 15, 17, 24})
            {
                assertDone(blk, S_IOERR, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, length)));
            }
            assertDone(blk, S_IOERR, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16), readable(SEGMENTS + 16, 8)),
                "a segment may not straddle descriptors");
            assertArrayEquals(diskPattern(6, 0, 4096), blk.disk(0, 4096));
            assertEquals(5, blk.executor.errors(BlkError.BAD_LENGTH));
        }
    }

    @Test
    void shouldRefuseSegmentBuffersOutsideGuestMemoryOrWhoseEndOverflows() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(7);
            assertDone(blk, S_IOERR, blk.submit(T_WRITE_ZEROES, 0, readable(0xffff_ffff_ffff_fff0L, 32)));
            assertDone(blk, S_IOERR, blk.submit(T_DISCARD, 0, readable(MEMORY, 16)));
            assertDone(blk, S_IOERR, blk.submit(T_DISCARD, 0, readable(MEMORY - 16, 32)));
            assertEquals(3, blk.executor.errors(BlkError.BAD_BUFFER));
            assertArrayEquals(diskPattern(7, 0, 4096), blk.disk(0, 4096));
        }
    }

    @Test
    void shouldRefuseSectorsPastTheEndOrWhoseSumOverflows() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(8);
            final long[][] bad = {{SECTORS - 1, 2}, {SECTORS + 1, 0}, {-1L, 2}, {Long.MIN_VALUE, 1}, {SECTORS, 1}};
            for (final long[] segment : bad)
            {
                blk.segment(SEGMENTS, segment[0], (int)segment[1], 0);
                assertDone(blk, S_IOERR, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
                assertDone(blk, S_IOERR, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)));
            }
            assertEquals(2 * bad.length, blk.executor.errors(BlkError.OUT_OF_RANGE));
            assertArrayEquals(diskPattern(8, CAPACITY - 1024, 1024), blk.disk(CAPACITY - 1024, 1024));
            blk.segment(SEGMENTS, SECTORS, 0, 0);
            assertDone(blk, S_OK, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)));
        }
    }

    @Test
    void shouldAnswerUnknownFlagsUnsupported() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(9);
            blk.segment(SEGMENTS, 0, 4, WRITE_ZEROES_FLAG_UNMAP);
            assertDone(blk, S_UNSUPP, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)), "DISCARD allows no flag, not even UNMAP");
            blk.segment(SEGMENTS, 0, 4, 2);
            assertDone(blk, S_UNSUPP, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16)));
            assertDone(blk, S_UNSUPP, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            blk.segment(SEGMENTS, 0, 4, 0x8000_0001);
            assertDone(blk, S_UNSUPP, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            assertEquals(4, blk.executor.errors(BlkError.BAD_FLAGS));
            assertArrayEquals(diskPattern(9, 0, 2048), blk.disk(0, 2048));
        }
    }

    @Test
    void shouldCheckEverySegmentBeforeApplyingAny() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(10);
            blk.segment(SEGMENTS, 0, 4, 0);
            blk.segment(SEGMENTS + 16, SECTORS, 1, 0);
            assertDone(blk, S_IOERR, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 32)));
            assertArrayEquals(diskPattern(10, 0, 2048), blk.disk(0, 2048), "the valid first segment was not applied");

            blk.segment(SEGMENTS + 0x100, 8, 1, 4);
            assertDone(blk, S_UNSUPP, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16), readable(SEGMENTS + 0x100, 16)));
            assertArrayEquals(diskPattern(10, 0, 2048), blk.disk(0, 2048), "a bad flag in a later descriptor stops the first");
        }
    }

    @Test
    void shouldAnswerMoreDiscardSegmentsThanAdvertisedUnsupported() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withDiscardLimits(64, 2, 64, 2), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(11);
            blk.segment(SEGMENTS, 0, 1, 0);
            blk.segment(SEGMENTS + 16, 1, 1, 0);
            blk.segment(SEGMENTS + 32, 2, 1, 0);
            assertDone(blk, S_UNSUPP, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 48)));
            assertDone(blk, S_UNSUPP, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 32), readable(SEGMENTS + 32, 16)), "counted across descriptors");
            assertArrayEquals(diskPattern(11, 0, 2048), blk.disk(0, 2048));
            assertEquals(2, blk.executor.errors(BlkError.LIMIT_EXCEEDED));
            assertDone(blk, S_OK, blk.submit(T_DISCARD, 0, readable(SEGMENTS, 32)), "exactly the limit is fine");
        }
    }

    @Test
    void shouldRefuseSegmentsThatAddUpToMoreThanTheDiskAndApplyNone() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(13);
            // The whole disk once: fine.
            blk.segment(SEGMENTS, 0, (int)SECTORS, 0);
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            assertArrayEquals(new byte[(int)CAPACITY], blk.disk(0, (int)CAPACITY));

            // Three overlapping whole-disk segments would be three times the work of the disk for one request.
            blk.fillDisk(14);
            blk.segment(SEGMENTS, 0, (int)SECTORS, 0);
            blk.segment(SEGMENTS + 16, 0, (int)SECTORS, 0);
            blk.segment(SEGMENTS + 32, 0, (int)SECTORS, 0);
            final int used = blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 48));
            assertDone(blk, S_IOERR, used);
            assertEquals(1, blk.executor.errors(BlkError.SEGMENTS_EXCEED_DISK));
            assertArrayEquals(diskPattern(14, 0, 4096), blk.disk(0, 4096), "nothing applied");
        }
    }

    @Test
    void shouldAnswerMoreWriteZeroesSegmentsThanAdvertisedUnsupported() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withDiscardLimits(64, 2, 64, 2), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(12);
            blk.segment(SEGMENTS, 0, 1, 0);
            blk.segment(SEGMENTS + 16, 1, 1, 0);
            blk.segment(SEGMENTS + 32, 2, 1, 0);
            final int used = blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 48));
            assertArrayEquals(diskPattern(12, 0, 2048), blk.disk(0, 2048), "nothing applied");
            assertEquals(1, blk.executor.errors(BlkError.LIMIT_EXCEEDED));
            assertDone(blk, S_UNSUPP, used);
        }
    }

    @Test
    void shouldAnswerADiscardSegmentLongerThanAdvertisedWithIoErr() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withDiscardLimits(8, 4, 8, 4), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(13);
            blk.segment(SEGMENTS, 0, 9, 0);
            final int used = blk.submit(T_DISCARD, 0, readable(SEGMENTS, 16));
            assertArrayEquals(diskPattern(13, 0, 9 * 512), blk.disk(0, 9 * 512), "nothing applied");
            assertEquals(1, blk.executor.errors(BlkError.LIMIT_EXCEEDED));
            assertDone(blk, S_IOERR, used);
        }
    }

    @Test
    void shouldAnswerAWriteZeroesSegmentLongerThanAdvertisedWithIoErr() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withDiscardLimits(8, 4, 8, 4), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(14);
            blk.segment(SEGMENTS, 0, 9, 0);
            assertDone(blk, S_IOERR, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)));
            assertArrayEquals(diskPattern(14, 0, 9 * 512), blk.disk(0, 9 * 512));
            assertEquals(1, blk.executor.errors(BlkError.LIMIT_EXCEEDED));
            blk.segment(SEGMENTS, 0, 8, 0);
            assertDone(blk, S_OK, blk.submit(T_WRITE_ZEROES, 0, readable(SEGMENTS, 16)), "exactly the limit is fine");
            assertArrayEquals(new byte[8 * 512], blk.disk(0, 8 * 512));
        }
    }

    @Test
    void shouldApplyASegmentBufferThatEndsAtTwoToTheSixtyThird()
    {
        // Guest memory with a region just below 2^63: a segment buffer ending exactly there.
        final long high = 0x7fff_ffff_ffff_f000L;
        try (Arena arena = Arena.ofConfined(); RamBackend ram = new RamBackend(CAPACITY))
        {
            final GuestMemory memory = GuestMemory.of(new GuestRegion(0, arena.allocate(0x1_0000, 4096)),
                new GuestRegion(high, arena.allocate(0x1000, 4096)));
            ram.segment().fill((byte)0x77);
            final BlkExecutor executor = new BlkExecutor(ram, BlkOptions.defaults());
            executor.setFeatures(BlkHarness.ALL_FEATURES);
            final long segment = high + 0x1000 - 16;
            memory.putU64(segment, 0);
            memory.putU32(segment + 8, 2);
            memory.putU32(segment + 12, 0);
            memory.putU32(0x1000, T_WRITE_ZEROES);
            memory.putU64(0x1008, 0);
            final BlkRequest request = new BlkRequest();
            assertNull(new BlkRequestParser().parse(new TestChains(memory, 0, 16).chain(readable(0x1000, 16), readable(segment, 16),
                writable(0x1100, 1)), request));
            assertEquals(1, executor.execute(memory, request));
            assertEquals(S_OK, memory.getU8(0x1100));
            final byte[] zeroed = new byte[1024];
            ram.segment().asByteBuffer().get(zeroed);
            assertArrayEquals(new byte[1024], zeroed, "an OK WRITE_ZEROES must have zeroed sectors 0 and 1");
        }
    }
}
