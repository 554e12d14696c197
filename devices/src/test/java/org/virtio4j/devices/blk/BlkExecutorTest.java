package org.virtio4j.devices.blk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.virtio4j.devices.blk.BlkHarness.CAPACITY;
import static org.virtio4j.devices.blk.BlkHarness.DATA;
import static org.virtio4j.devices.blk.BlkHarness.MEMORY;
import static org.virtio4j.devices.blk.BlkHarness.SECTORS;
import static org.virtio4j.devices.blk.BlkHarness.STATUS;
import static org.virtio4j.devices.blk.BlkHarness.pattern;
import static org.virtio4j.virtio.VirtioBlk.S_IOERR;
import static org.virtio4j.virtio.VirtioBlk.S_OK;
import static org.virtio4j.virtio.VirtioBlk.S_UNSUPP;
import static org.virtio4j.virtio.VirtioBlk.T_FLUSH;
import static org.virtio4j.virtio.VirtioBlk.T_GET_ID;
import static org.virtio4j.virtio.VirtioBlk.T_IN;
import static org.virtio4j.virtio.VirtioBlk.T_OUT;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * virtio-blk execution of IN, OUT, FLUSH, GET_ID and unknown types (vm-virtio's {@code StdIoBackend} scenarios),
 * with our stricter rules: every data buffer is checked to be in guest memory before any byte moves (a failed
 * request has used length 1), a read-only device refuses only writes, GET_ID needs exactly 20 device-writable bytes.
 */
class BlkExecutorTest
{
    private static final byte UNTOUCHED = (byte)0xc3;

    @TempDir
    Path dir;

    private static void assertDone(final BlkHarness blk, final int status, final int usedLength, final int used)
    {
        assertEquals(status, blk.status(), "status byte");
        assertEquals(usedLength, used, "used length");
    }

    private static byte[] untouched(final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, UNTOUCHED);
        return bytes;
    }

    private static BlkOptions withSegMax(final int segMax)
    {
        final BlkOptions d = BlkOptions.defaults();
        return new BlkOptions(false, d.serial(), 1, d.queueSize(), segMax, d.sizeMax(), d.maxDiscardSectors(), d.maxDiscardSegments(),
            d.maxWriteZeroesSectors(), d.maxWriteZeroesSegments());
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldReadSixHundredHexBytesIntoTheGuest(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(1);
            assertDone(blk, S_OK, 0x601, blk.submit(T_IN, 1, writable(DATA, 0x600)));
            assertArrayEquals(blk.disk(512, 0x600), blk.guest(DATA, 0x600));
            assertEquals(0x600, blk.executor.bytesRead());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldFillDescriptorsOfAnyLengthThatSumToWholeSectors(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(2);
            assertDone(blk, S_OK, 0x601,
                blk.submit(T_IN, 4, writable(DATA + 0x3000, 0x100), writable(DATA, 0x301), writable(DATA + 0x5001, 0x1ff)));
            final byte[] disk = blk.disk(4 * 512, 0x600);
            assertArrayEquals(Arrays.copyOfRange(disk, 0, 0x100), blk.guest(DATA + 0x3000, 0x100));
            assertArrayEquals(Arrays.copyOfRange(disk, 0x100, 0x401), blk.guest(DATA, 0x301));
            assertArrayEquals(Arrays.copyOfRange(disk, 0x401, 0x600), blk.guest(DATA + 0x5001, 0x1ff));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldWriteTheGuestsBytesToTheAddressedSectorsOnly(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            final byte[] first = pattern(0x300, 5);
            final byte[] second = pattern(0x100, 6);
            blk.putGuest(DATA, first);
            blk.putGuest(DATA + 0x1000, second);
            assertDone(blk, S_OK, 1, blk.submit(T_OUT, 3, readable(DATA, 0x300), readable(DATA + 0x1000, 0x100)));
            assertArrayEquals(first, blk.disk(3 * 512, 0x300));
            assertArrayEquals(second, blk.disk(3 * 512 + 0x300, 0x100));
            assertArrayEquals(new byte[512], blk.disk(2 * 512, 512), "the sector before is untouched");
            assertArrayEquals(new byte[512], blk.disk(5 * 512, 512), "the sector after is untouched");
            assertEquals(0x400, blk.executor.bytesWritten());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldServeTheLastSectorButNothingPastIt(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(3);
            assertDone(blk, S_OK, 513, blk.submit(T_IN, SECTORS - 1, writable(DATA, 512)));
            assertArrayEquals(blk.disk(CAPACITY - 512, 512), blk.guest(DATA, 512));

            blk.putGuest(DATA, untouched(1024));
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, SECTORS - 1, writable(DATA, 1024)));
            assertArrayEquals(untouched(1024), blk.guest(DATA, 1024), "a failed read writes nothing, not even the first sector");
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, SECTORS, writable(DATA, 512)));

            final byte[] lastSector = blk.disk(CAPACITY - 512, 512);
            blk.putGuest(DATA, pattern(1024, 9));
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, SECTORS - 1, readable(DATA, 1024)));
            assertArrayEquals(lastSector, blk.disk(CAPACITY - 512, 512), "no partial write at the end");
            assertEquals(3, blk.executor.errors(BlkError.OUT_OF_RANGE));
        }
    }

    @Test
    void shouldRefuseSectorArithmeticThatOverflows() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            for (final long sector : new long[] {-1L, Long.MAX_VALUE, 1L << 55, (1L << 55) + 1, Long.MIN_VALUE})
            {
                blk.putGuest(DATA, untouched(1024));
                assertDone(blk, S_IOERR, 1, blk.submit(T_IN, sector, writable(DATA, 1024)));
                assertArrayEquals(untouched(1024), blk.guest(DATA, 1024), "sector " + Long.toUnsignedString(sector));
            }
            assertEquals(5, blk.executor.errors(BlkError.OUT_OF_RANGE));
        }
    }

    @Test
    void shouldRefuseDataThatIsNotWholeSectors() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(4);
            blk.putGuest(DATA, untouched(1024));
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, 0, writable(DATA, 511)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, 0, writable(DATA, 513)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, 0, writable(DATA, 256), writable(DATA + 512, 257)));
            assertArrayEquals(untouched(1024), blk.guest(DATA, 1024));
            final byte[] before = blk.disk(0, 1024);
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, 0, readable(DATA, 100)));
            assertArrayEquals(before, blk.disk(0, 1024));
            assertEquals(4, blk.executor.errors(BlkError.BAD_LENGTH));
            assertDone(blk, S_OK, 1, blk.submit(T_IN, 0));
        }
    }

    @Test
    void shouldRefuseMoreThanFourGibibytesOfData() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.request.clear(0);
            blk.request.header(T_IN, 0);
            blk.request.addData(DATA, 0x8000_0000, true);
            blk.request.addData(DATA, 0x8000_0000, true);
            blk.request.status(STATUS);
            assertEquals(1L << 32, blk.request.totalDataLen());
            assertDone(blk, S_IOERR, 1, blk.executor.execute(blk.memory, blk.request));
            assertEquals(1, blk.executor.errors(BlkError.BAD_LENGTH));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldCheckEveryBufferIsInGuestMemoryBeforeReading(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.fillDisk(5);
            blk.putGuest(DATA, untouched(512));
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, 0, writable(DATA, 512), writable(MEMORY, 512)));
            assertArrayEquals(untouched(512), blk.guest(DATA, 512), "the buffer in memory is untouched too");
            assertDone(blk, S_IOERR, 1, blk.submit(T_IN, 0, writable(DATA, 512), writable(MEMORY - 256, 512)));
            assertArrayEquals(untouched(512), blk.guest(DATA, 512), "a buffer running off the end");
            assertEquals(2, blk.executor.errors(BlkError.BAD_BUFFER));
            assertEquals(0, blk.executor.bytesRead());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldCheckEveryBufferIsInGuestMemoryBeforeWriting(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults()))
        {
            blk.putGuest(DATA, pattern(512, 7));
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, 0, readable(DATA, 512), readable(MEMORY + 0x1000, 512)));
            assertArrayEquals(new byte[1024], blk.disk(0, 1024), "the first buffer did not reach the disk either");
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, 0, readable(-512L, 512)));
            assertEquals(2, blk.executor.errors(BlkError.BAD_BUFFER));
            assertEquals(0, blk.executor.bytesWritten());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void shouldRefuseOnlyWritesOnAReadOnlyDevice(final String kind) throws IOException
    {
        try (BlkHarness blk = BlkHarness.of(kind, dir, BlkOptions.defaults().withReadOnly(true).withSerial("ro-disk")))
        {
            blk.fillDisk(8);
            final byte[] before = blk.disk(0, 2048);
            blk.putGuest(DATA, pattern(1024, 1));
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, 0, readable(DATA, 1024)));
            blk.segment(BlkHarness.SEGMENTS, 0, 4, 0);
            assertDone(blk, S_IOERR, 1, blk.submit(VirtioBlk.T_DISCARD, 0, readable(BlkHarness.SEGMENTS, 16)));
            assertDone(blk, S_IOERR, 1, blk.submit(VirtioBlk.T_WRITE_ZEROES, 0, readable(BlkHarness.SEGMENTS, 16)));
            assertArrayEquals(before, blk.disk(0, 2048), "the disk is untouched");
            assertEquals(3, blk.executor.errors(BlkError.READ_ONLY));

            assertDone(blk, S_OK, 1025, blk.submit(T_IN, 0, writable(DATA, 1024)));
            assertArrayEquals(Arrays.copyOf(before, 1024), blk.guest(DATA, 1024));
            assertDone(blk, S_OK, 1, blk.submit(T_FLUSH, 0));
            assertDone(blk, S_OK, 21, blk.submit(T_GET_ID, 0, writable(DATA, 20)));
            assertArrayEquals(Arrays.copyOf("ro-disk".getBytes(StandardCharsets.US_ASCII), 20), blk.guest(DATA, 20));
        }
    }

    @Test
    void shouldAnswerFlushUnsupportedUnlessNegotiated() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), VirtioFeatures.bit(VirtioBlk.F_DISCARD)))
        {
            assertDone(blk, S_UNSUPP, 1, blk.submit(T_FLUSH, 0));
            assertEquals(1, blk.executor.errors(BlkError.UNSUPPORTED));
            blk.executor.setFeatures(VirtioFeatures.bit(VirtioBlk.F_FLUSH));
            assertDone(blk, S_OK, 1, blk.submit(T_FLUSH, 0));
        }
    }

    /** A RAM disk that counts its flushes, and can fail them. */
    private static final class FlushCountingBackend implements BlkBackend
    {
        private final RamBackend ram = new RamBackend(CAPACITY);
        int flushes;
        boolean failFlush;

        @Override
        public long capacity()
        {
            return ram.capacity();
        }

        @Override
        public void read(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
        {
            ram.read(offset, memory, address, length);
        }

        @Override
        public void write(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
        {
            ram.write(offset, memory, address, length);
        }

        @Override
        public void flush() throws IOException
        {
            flushes++;
            if (failFlush)
            {
                throw new IOException("disk gone");
            }
        }

        @Override
        public void discard(final long offset, final long length) throws IOException
        {
            ram.discard(offset, length);
        }

        @Override
        public void writeZeroes(final long offset, final long length, final boolean unmap) throws IOException
        {
            ram.writeZeroes(offset, length, unmap);
        }

        @Override
        public void close() throws IOException
        {
            ram.close();
        }
    }

    @Test
    void shouldMakeEveryWriteDurableBeforeItCompletesWhenTheDriverDidNotTakeFlush() throws IOException
    {
        final FlushCountingBackend disk = new FlushCountingBackend();
        final long noFlush = VirtioFeatures.bit(VirtioBlk.F_DISCARD) | VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES);
        try (BlkHarness blk = BlkHarness.over(disk, BlkOptions.defaults(), noFlush))
        {
            blk.putGuest(DATA, untouched(512));
            assertDone(blk, S_OK, 1, blk.submit(T_OUT, 1, readable(DATA, 512)));
            assertEquals(1, disk.flushes, "write-through: the write was flushed before it completed");
            assertDone(blk, S_OK, 513, blk.submit(T_IN, 1, writable(DATA, 512)));
            assertEquals(1, disk.flushes, "reads flush nothing");

            disk.failFlush = true;
            assertDone(blk, S_IOERR, 1, blk.submit(T_OUT, 2, readable(DATA, 512)));
            assertEquals(1, blk.executor.errors(BlkError.BACKEND_IO), "a write that could not be made durable fails");

            disk.failFlush = false;
            blk.executor.setFeatures(noFlush | VirtioFeatures.bit(VirtioBlk.F_FLUSH));
            assertDone(blk, S_OK, 1, blk.submit(T_OUT, 3, readable(DATA, 512)));
            assertEquals(2, disk.flushes, "with FLUSH negotiated the cache is write-back: the driver flushes");
        }
    }

    @Test
    void shouldFailEveryFlushAfterAFailedOneUntilTheDeviceIsReset() throws IOException
    {
        final FlushCountingBackend disk = new FlushCountingBackend();
        final long withFlush = VirtioFeatures.bit(VirtioBlk.F_FLUSH);
        try (BlkHarness blk = BlkHarness.over(disk, BlkOptions.defaults(), withFlush))
        {
            assertDone(blk, S_OK, 1, blk.submit(T_FLUSH, 0));
            disk.failFlush = true;
            assertDone(blk, S_IOERR, 1, blk.submit(T_FLUSH, 0));
            // The disk "recovers": Linux would now report success for pages it dropped.
            disk.failFlush = false;
            // A retried FLUSH does not report lost data as safe.
            assertDone(blk, S_IOERR, 1, blk.submit(T_FLUSH, 0));
            assertEquals(2, disk.flushes, "the retry does not even ask the disk");
            blk.executor.setFeatures(withFlush);
            assertDone(blk, S_OK, 1, blk.submit(T_FLUSH, 0));
        }
    }

    @Test
    void shouldFlushAFileAndIgnoreFlushData() throws IOException
    {
        try (BlkHarness blk = BlkHarness.file(dir, BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.putGuest(DATA, untouched(512));
            assertDone(blk, S_OK, 1, blk.submit(T_FLUSH, 0, writable(DATA, 512)));
            assertArrayEquals(untouched(512), blk.guest(DATA, 512), "FLUSH writes nothing into its data buffers");
        }
    }

    @Test
    void shouldAnswerUnknownTypesUnsupported() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            for (final int type : new int[] {VirtioBlk.T_SCSI_CMD, VirtioBlk.T_GET_LIFETIME, VirtioBlk.T_SECURE_ERASE, 3, 0x8000_0000, -1})
            {
                blk.putGuest(DATA, untouched(512));
                assertDone(blk, S_UNSUPP, 1, blk.submit(type, 0, writable(DATA, 512)));
                assertArrayEquals(untouched(512), blk.guest(DATA, 512), "type " + type);
            }
            assertEquals(6, blk.executor.errors(BlkError.UNSUPPORTED));
        }
    }

    @Test
    void shouldCopyAShortSerialNulPaddedAcrossDescriptors() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withSerial("disk-0001"), BlkHarness.ALL_FEATURES))
        {
            final byte[] id = Arrays.copyOf("disk-0001".getBytes(StandardCharsets.US_ASCII), 20);
            assertDone(blk, S_OK, 21, blk.submit(T_GET_ID, 0, writable(DATA, 20)));
            assertArrayEquals(id, blk.guest(DATA, 20));
            blk.putGuest(DATA, untouched(0x200));
            assertDone(blk, S_OK, 21, blk.submit(T_GET_ID, 0, writable(DATA + 0x100, 5), writable(DATA, 1), writable(DATA + 0x40, 14)));
            assertArrayEquals(Arrays.copyOfRange(id, 0, 5), blk.guest(DATA + 0x100, 5));
            assertArrayEquals(Arrays.copyOfRange(id, 5, 6), blk.guest(DATA, 1));
            assertArrayEquals(Arrays.copyOfRange(id, 6, 20), blk.guest(DATA + 0x40, 14));
            assertEquals(UNTOUCHED, blk.guest(DATA + 0x105, 1)[0], "nothing past the buffers");
        }
    }

    @Test
    void shouldCopyATwentyByteSerialWithoutATerminator() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withSerial("ABCDEFGHIJKLMNOPQRST"), BlkHarness.ALL_FEATURES))
        {
            assertDone(blk, S_OK, 21, blk.submit(T_GET_ID, 0, writable(DATA, 20)));
            assertArrayEquals("ABCDEFGHIJKLMNOPQRST".getBytes(StandardCharsets.US_ASCII), blk.guest(DATA, 20));
        }
    }

    @Test
    void shouldAnswerGetIdUnsupportedWithoutASerial() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults().withSerial(""), BlkHarness.ALL_FEATURES))
        {
            blk.putGuest(DATA, untouched(20));
            assertDone(blk, S_UNSUPP, 1, blk.submit(T_GET_ID, 0, writable(DATA, 20)));
            assertArrayEquals(untouched(20), blk.guest(DATA, 20));
            assertEquals(1, blk.executor.errors(BlkError.UNSUPPORTED));
        }
    }

    @Test
    void shouldRefuseAGetIdBufferThatIsNotExactlyTwentyDeviceWritableBytesInMemory() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES))
        {
            blk.putGuest(DATA, untouched(64));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0, writable(DATA, 19)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0, writable(DATA, 21)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0, writable(DATA, 5), writable(DATA + 32, 16)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0));
            assertEquals(4, blk.executor.errors(BlkError.BAD_LENGTH));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0, readable(DATA, 20)));
            assertDone(blk, S_IOERR, 1, blk.submit(T_GET_ID, 0, writable(DATA, 10), writable(MEMORY, 10)));
            assertEquals(2, blk.executor.errors(BlkError.BAD_BUFFER));
            assertArrayEquals(untouched(64), blk.guest(DATA, 64), "no partial id anywhere");
        }
    }

    @Test
    void shouldRefuseMoreDataSegmentsThanSegMaxAdvertises() throws IOException
    {
        try (BlkHarness blk = BlkHarness.ram(withSegMax(2), BlkHarness.ALL_FEATURES))
        {
            blk.fillDisk(11);
            blk.putGuest(DATA, untouched(1536));
            final int used = blk.submit(T_IN, 0, writable(DATA, 512), writable(DATA + 512, 512), writable(DATA + 1024, 512));
            assertEquals(1, used);
            assertNotEquals(S_OK, blk.status());
            assertArrayEquals(untouched(1536), blk.guest(DATA, 1536));
            assertEquals(1, blk.executor.errors(BlkError.LIMIT_EXCEEDED));
            final byte[] before = blk.disk(0, 1536);
            blk.submit(T_OUT, 0, readable(DATA, 512), readable(DATA + 512, 512), readable(DATA + 1024, 512));
            assertNotEquals(S_OK, blk.status());
            assertArrayEquals(before, blk.disk(0, 1536));
            assertDone(blk, S_OK, 1025, blk.submit(T_IN, 0, writable(DATA, 512), writable(DATA + 512, 512)));
        }
    }

    @Test
    void shouldAnswerIoErrWhenAFileOpenedReadOnlyIsWritten() throws IOException
    {
        // A backend failure is an IOERR for the request, never an exception out of the executor (BlkBackend's contract:
        // "@throws IOException if the backend fails").
        final Path image = dir.resolve("ro.img");
        Files.write(image, new byte[(int)BlkHarness.CAPACITY]);
        try (BlkHarness blk = BlkHarness.ram(BlkOptions.defaults(), BlkHarness.ALL_FEATURES);
             FileBackend file = new FileBackend(image, true))
        {
            final BlkExecutor executor = new BlkExecutor(file, BlkOptions.defaults());
            executor.setFeatures(BlkHarness.ALL_FEATURES);
            blk.putGuest(DATA, pattern(512, 3));
            blk.prepare(T_OUT, 0, readable(DATA, 512));
            assertEquals(1, executor.execute(blk.memory, blk.request));
            assertEquals(S_IOERR, blk.status());
            assertEquals(1, executor.errors(BlkError.BACKEND_IO));
            assertArrayEquals(new byte[512], Arrays.copyOf(Files.readAllBytes(image), 512));
        }
    }
}
