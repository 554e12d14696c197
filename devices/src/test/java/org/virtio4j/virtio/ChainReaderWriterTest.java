package org.virtio4j.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading and writing a chain's buffers as byte streams: vm-virtio's {@code descriptor_utils.rs} tests
 * ({@code reader_test_inv_desc_addr}, {@code reader_test_simple_chain}, {@code writer_test_simple_chain},
 * {@code reader_test_incompatible_chain}, {@code writer_test_incompatible_chain}, {@code reader_writer_shared_chain},
 * {@code reader_writer_shattered_object}, {@code reader_unexpected_eof}, {@code split_border}, {@code split_middle},
 * {@code split_end}, {@code split_beginning}, {@code split_outofbounds}, {@code read_full}, {@code write_full})
 * ported to {@link ChainReader} and {@link ChainWriter}. vm-virtio's {@code Reader::new} error is our
 * {@link QueueError#CHAIN_BUFFER_NOT_IN_MEMORY}; its io {@code UnexpectedEof}/{@code WriteZero} are
 * {@link QueueError#SHORT_BUFFER}. Buffers start at 0x1000, after the driver's rings (vm-virtio starts them at the
 * mock queue's end).
 *
 * <p>Not ported: {@code Writer::flush} (no counterpart: writes go straight to guest memory), and
 * {@code DescriptorChainOverflow} on construction (a chain's lengths are capped at 2^32 - 1 by the walk itself).
 */
class ChainReaderWriterTest
{
    private static final long BUFFERS = 0x1000;

    private final Arena arena = Arena.ofConfined();
    private GuestMemory memory;
    private DriverQueue driver;
    private SplitQueue queue;

    @TempDir
    Path tempDir;

    @BeforeEach
    void setUp()
    {
        memory = GuestMemory.of(new GuestRegion(0, arena.allocate(0x10000, 4096)));
        driver = new DriverQueue(memory, 0, 16);
        queue = driver.configure(new SplitQueue(16));
        // Byte at BUFFERS + i holds i (mod 256): a readable stream over contiguous buffers reads 0, 1, 2, ...
        for (int i = 0; i < 0x1000; i++)
        {
            memory.putU8(BUFFERS + i, i);
        }
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    /**
     * vm-virtio's {@code create_descriptor_chain}: a chain of buffers laid out from {@link #BUFFERS}, {@code gap} bytes
     * apart, made available and popped. {@code spec} lists them as "R16 W64 ...".
     */
    private DescriptorChain chain(final int gap, final String spec)
    {
        final String[] items = spec.split(" ");
        final DriverBuffer[] buffers = new DriverBuffer[items.length];
        long address = BUFFERS;
        for (int i = 0; i < items.length; i++)
        {
            final int size = Integer.parseInt(items[i].substring(1));
            buffers[i] = new DriverBuffer(address, size, items[i].charAt(0) == 'W');
            address += size + gap;
        }
        driver.addChain(buffers);
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(queue.popDescriptorChain(memory, chain));
        return chain;
    }

    private static byte[] sequence(final int from, final int length)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(from + i);
        }
        return bytes;
    }

    private byte[] guestBytes(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        memory.read(address, bytes, 0, length);
        return bytes;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loading
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldFailToLoadReaderWhenBufferIsOutsideMemory()
    {
        final GuestMemory small = GuestMemory.of(new GuestRegion(0, arena.allocate(0x1000, 4096)));
        final DriverQueue smallDriver = new DriverQueue(small, 0, 16);
        final SplitQueue smallQueue = smallDriver.configure(new SplitQueue(16));
        smallDriver.addChain(DriverBuffer.readable(0x1001, 1));
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(smallQueue.popDescriptorChain(small, chain));

        final QueueException e = assertThrows(QueueException.class, () -> new ChainReader().load(small, chain));

        assertEquals(QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, e.error());
        assertEquals(GuestMemoryException.Kind.INVALID_GUEST_ADDRESS, e.memoryError().kind());
        assertEquals(0x1001, e.memoryError().address());
        assertEquals("CHAIN_BUFFER_NOT_IN_MEMORY: guest address 0x1001 is in no memory region", e.getMessage());
    }

    @Test
    void shouldFailToLoadWhenBufferRunsPastEndOfMemory()
    {
        final DescriptorChain readable = chain(0, "R16");
        driver.writeDescriptor(readable.headIndex(), 0xfff0, 0x20, 0, 0);
        final DescriptorChain writable = chain(0, "W16");
        driver.writeDescriptor(writable.headIndex(), 0xfff8, 0x10, DescriptorLayout.F_WRITE, 0);

        final QueueException read = assertThrows(QueueException.class, () -> new ChainReader().load(memory, readable));
        final QueueException write = assertThrows(QueueException.class, () -> new ChainWriter().load(memory, writable));

        assertEquals(QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, read.error());
        assertEquals(0x10000, read.memoryError().address());
        assertEquals(QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, write.error());
        assertEquals(0x10000, write.memoryError().address());
    }

    @Test
    void shouldAcceptZeroLengthBufferOutsideMemory()
    {
        final DescriptorChain chain = chain(0, "R0 R8");
        chain.rewind();
        assertTrue(chain.next());
        driver.writeDescriptor(chain.headIndex(), 0x7_0000_0000L, 0, DescriptorLayout.F_NEXT, chain.nextField());

        final ChainReader reader = new ChainReader().load(memory, chain);

        assertEquals(8, reader.availableBytes());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Reading and writing
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldReadAcrossDescriptorsOfSimpleChain()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R8 R16 R18 R64"));
        assertEquals(106, reader.availableBytes());
        assertEquals(0, reader.bytesRead());

        final byte[] buffer = new byte[64];
        reader.readFully(buffer, 0, 64);

        assertArrayEquals(sequence(0, 64), buffer);
        assertEquals(42, reader.availableBytes());
        assertEquals(64, reader.bytesRead());

        Arrays.fill(buffer, (byte)0);
        assertEquals(42, reader.read(buffer, 0, 64));

        assertArrayEquals(sequence(64, 42), Arrays.copyOf(buffer, 42));
        assertEquals(0, buffer[42]);
        assertEquals(0, reader.availableBytes());
        assertEquals(106, reader.bytesRead());
        assertEquals(0, reader.read(buffer, 0, 64), "0 at the end");
    }

    @Test
    void shouldWriteAcrossDescriptorsOfSimpleChain()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(0, "W8 W16 W18 W64"));
        assertEquals(106, writer.availableBytes());
        assertEquals(0, writer.bytesWritten());

        writer.writeFully(sequence(0x80, 64), 0, 64);

        assertEquals(42, writer.availableBytes());
        assertEquals(64, writer.bytesWritten());

        assertEquals(42, writer.write(sequence(0xc0, 64), 0, 64));

        assertEquals(0, writer.availableBytes());
        assertEquals(106, writer.bytesWritten());
        assertArrayEquals(sequence(0x80, 64), guestBytes(BUFFERS, 64));
        assertArrayEquals(sequence(0xc0, 42), guestBytes(BUFFERS + 64, 42));
        assertEquals(106, memory.getU8(BUFFERS + 106), "the byte after the chain is untouched");
    }

    @Test
    void shouldSeeNoBytesWhenReadingWriteOnlyChain()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "W8"));
        assertEquals(0, reader.availableBytes());
        assertEquals(0, reader.bytesRead());

        final QueueException e = assertThrows(QueueException.class, reader::readU8);

        assertEquals(QueueError.SHORT_BUFFER, e.error());
        assertEquals("SHORT_BUFFER: wanted=1 available=0", e.getMessage());
        assertEquals(0, reader.availableBytes());
        assertEquals(0, reader.bytesRead());
    }

    @Test
    void shouldSeeNoBytesWhenWritingReadOnlyChain()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(0, "R8"));
        assertEquals(0, writer.availableBytes());
        assertEquals(0, writer.bytesWritten());

        final QueueException e = assertThrows(QueueException.class, () -> writer.writeU8(0));

        assertEquals(QueueError.SHORT_BUFFER, e.error());
        assertEquals(0, writer.availableBytes());
        assertEquals(0, writer.bytesWritten());
        assertEquals(0, memory.getU8(BUFFERS), "the readable buffer is untouched");
    }

    @Test
    void shouldReadAndWriteOwnDirectionsOfSharedChain()
    {
        final DescriptorChain chain = chain(0, "R16 R16 R96 W64 W1 W3");
        final ChainReader reader = new ChainReader().load(memory, chain);
        final ChainWriter writer = new ChainWriter().load(memory, chain);
        assertEquals(0, reader.bytesRead());
        assertEquals(0, writer.bytesWritten());

        final byte[] buffer = new byte[200];
        assertEquals(128, reader.read(buffer, 0, 200));
        // The writable descriptors are only 68 bytes long.
        writer.writeFully(buffer, 0, 68);

        assertEquals(0, reader.availableBytes());
        assertEquals(128, reader.bytesRead());
        assertEquals(0, writer.availableBytes());
        assertEquals(68, writer.bytesWritten());
        assertArrayEquals(sequence(0, 68), guestBytes(BUFFERS + 128, 68));
    }

    @Test
    void shouldSkipWritableDescriptorsWhereverTheyAreWhenReading()
    {
        final DescriptorChain chain = chain(0, "R4 W4 R4 W4");
        final ChainReader reader = new ChainReader().load(memory, chain);
        final ChainWriter writer = new ChainWriter().load(memory, chain);

        assertEquals(8, reader.availableBytes());
        assertEquals(0x0302_0100, reader.readU32());
        assertEquals(0x0b0a_0908, reader.readU32());
        assertEquals(8, writer.availableBytes());
        writer.writeU64(0xf7f6_f5f4_f3f2_f1f0L);
        assertEquals(0xf0, memory.getU8(BUFFERS + 4));
        assertEquals(0xf3, memory.getU8(BUFFERS + 7));
        assertEquals(8, memory.getU8(BUFFERS + 8), "the readable buffer between is untouched");
        assertEquals(0xf4, memory.getU8(BUFFERS + 12));
        assertEquals(0xf7, memory.getU8(BUFFERS + 15));
    }

    @Test
    void shouldReadObjectShatteredAcrossOneByteDescriptors()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(123, "W1 W1 W1 W1"));
        writer.writeU32(0x1234_5678);

        assertEquals(0x78, memory.getU8(BUFFERS));
        assertEquals(0x56, memory.getU8(BUFFERS + 124));
        assertEquals(0x34, memory.getU8(BUFFERS + 248));
        assertEquals(0x12, memory.getU8(BUFFERS + 372));
        assertEquals(1, memory.getU8(BUFFERS + 1), "the gaps are untouched");

        final ChainReader reader = new ChainReader().load(memory, chain(123, "R1 R1 R1 R1"));

        assertEquals(0x1234_5678, reader.readU32());
    }

    @Test
    void shouldFailExactReadPastEndWithoutConsumingAnything()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R256 R256"));

        final QueueException e = assertThrows(QueueException.class, () -> reader.readFully(new byte[1024], 0, 1024));

        assertEquals(QueueError.SHORT_BUFFER, e.error());
        assertEquals("SHORT_BUFFER: wanted=1024 available=512", e.getMessage());
        assertEquals(512, reader.availableBytes());
        assertEquals(0, reader.bytesRead());
    }

    @Test
    void shouldFailExactWritePastEndWithoutWritingAnything()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(0, "W2 W1"));

        final QueueException e = assertThrows(QueueException.class, () -> writer.writeU32(-1));

        assertEquals(QueueError.SHORT_BUFFER, e.error());
        assertEquals(3, writer.availableBytes());
        assertEquals(0, memory.getU8(BUFFERS));
        assertEquals(2, memory.getU8(BUFFERS + 2));
    }

    @Test
    void shouldReadAndWriteLittleEndianScalarsAcrossDescriptorBoundaries()
    {
        final DescriptorChain chain = chain(0, "W3 W5 W7");
        final ChainWriter writer = new ChainWriter().load(memory, chain);
        writer.writeU8(0x1ab);
        writer.writeU16(0xbeef);
        writer.writeU32(0xcafe_babe);
        writer.writeU64(0x0102_0304_0506_0708L);
        assertEquals(0, writer.availableBytes());
        assertEquals(15, writer.bytesWritten());
        assertEquals(0xab, memory.getU8(BUFFERS));
        assertEquals(0xef, memory.getU8(BUFFERS + 1));
        assertEquals(0xbe, memory.getU8(BUFFERS + 2));

        driver.writeDescriptor(chain.headIndex(), BUFFERS, 3, DescriptorLayout.F_NEXT, chain.headIndex() + 1);
        driver.writeDescriptor(chain.headIndex() + 1, BUFFERS + 3, 5, DescriptorLayout.F_NEXT, chain.headIndex() + 2);
        driver.writeDescriptor(chain.headIndex() + 2, BUFFERS + 8, 7, 0, 0);
        final ChainReader reader = new ChainReader().load(memory, chain);

        assertEquals(0xab, reader.readU8());
        assertEquals(0xbeef, reader.readU16());
        assertEquals(0xcafe_babe, reader.readU32());
        assertEquals(0x0102_0304_0506_0708L, reader.readU64());
        assertEquals(QueueError.SHORT_BUFFER, assertThrows(QueueException.class, reader::readU8).error());
    }

    @Test
    void shouldReadBufferThatSpansTwoAdjacentRegionsAsOneStream()
    {
        final GuestMemory split = GuestMemory.of(
            new GuestRegion(0, arena.allocate(0x2000, 4096)), new GuestRegion(0x2000, arena.allocate(0x1000, 4096)));
        final DriverQueue splitDriver = new DriverQueue(split, 0, 4);
        final SplitQueue splitQueue = splitDriver.configure(new SplitQueue(4));
        split.write(0x1ff8, sequence(0x40, 16), 0, 16);
        splitDriver.addChain(DriverBuffer.readable(0x1ff8, 16));
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(splitQueue.popDescriptorChain(split, chain));

        final ChainReader reader = new ChainReader().load(split, chain);
        final byte[] bytes = new byte[16];

        assertEquals(16, reader.read(bytes, 0, 16));
        assertArrayEquals(sequence(0x40, 16), bytes);
    }

    @Test
    void shouldReadIndirectChain()
    {
        driver.addIndirectChain(0x3000, DriverBuffer.readable(BUFFERS + 10, 5), DriverBuffer.readable(BUFFERS + 100, 3),
            DriverBuffer.writable(BUFFERS + 200, 4));
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(queue.popDescriptorChain(memory, chain));
        final ChainReader reader = new ChainReader().load(memory, chain);
        final byte[] bytes = new byte[8];

        assertEquals(8, reader.read(bytes, 0, 8));

        assertArrayEquals(new byte[] {10, 11, 12, 13, 14, 100, 101, 102}, bytes);
        assertEquals(4, new ChainWriter().load(memory, chain).availableBytes());
    }

    @Test
    void shouldReloadChainFromItsStartEvenAfterItWasWalked()
    {
        final DescriptorChain chain = chain(0, "R8 R8");
        while (chain.next())
        {
            // Walk to the end.
        }
        final ChainReader reader = new ChainReader();

        reader.load(memory, chain);
        assertEquals(16, reader.availableBytes());
        reader.skip(5);
        reader.load(memory, chain);

        assertEquals(16, reader.availableBytes());
        assertEquals(0, reader.bytesRead());
        assertEquals(0, reader.readU8());
    }

    @Test
    void shouldSkipAndFillOnlyUpToAvailableBytes()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(0, "W4 W4"));

        assertEquals(3, writer.skip(3));
        assertEquals(5, writer.fill(100, (byte)0xee));

        assertEquals(0, writer.availableBytes());
        assertEquals(8, writer.bytesWritten());
        assertArrayEquals(new byte[] {0, 1, 2, (byte)0xee, (byte)0xee, (byte)0xee, (byte)0xee, (byte)0xee, 8},
            guestBytes(BUFFERS, 9));
        assertEquals(0, writer.skip(1));
    }

    @Test
    void shouldCopyToAndFromMemorySegments()
    {
        final DescriptorChain chain = chain(0, "R6 W6");
        final MemorySegment out = arena.allocate(8);

        assertEquals(6, new ChainReader().load(memory, chain).read(out, 1, 8));
        assertEquals(0, out.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(5, out.get(ValueLayout.JAVA_BYTE, 6));

        assertEquals(6, new ChainWriter().load(memory, chain).write(out, 1, 7));
        assertArrayEquals(sequence(0, 6), guestBytes(BUFFERS + 6, 6));
    }

    @Test
    void shouldTransferBetweenChainAndFile() throws IOException
    {
        final Path file = tempDir.resolve("disk.img");
        Files.write(file, sequence(0x30, 20));
        final DescriptorChain chain = chain(0, "R10 W4 W12");

        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            assertEquals(10, new ChainReader().load(memory, chain).readToFile(channel, 4, 64));
            final ChainWriter writer = new ChainWriter().load(memory, chain);
            // The file has 20 bytes: from position 14 only 6 are left.
            assertEquals(6, writer.writeFromFile(channel, 14, 16));
            assertEquals(6, writer.bytesWritten());
            assertEquals(10, writer.availableBytes());
        }

        final byte[] expected = sequence(0x30, 20);
        System.arraycopy(sequence(0, 10), 0, expected, 4, 10);
        assertArrayEquals(expected, Files.readAllBytes(file));
        assertArrayEquals(Arrays.copyOfRange(expected, 14, 20), guestBytes(BUFFERS + 10, 6));
        assertEquals(16, memory.getU8(BUFFERS + 16), "the rest of the writable buffers is untouched");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Splitting
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldSplitAtDescriptorBorder()
    {
        final DescriptorChain chain = chain(0, "R16 R16 R96 W64 W1 W3");
        final ChainReader reader = new ChainReader().load(memory, chain);

        final ChainReader other = reader.splitAt(32);

        assertEquals(32, reader.availableBytes());
        assertEquals(96, other.availableBytes());
        assertEquals(32, other.readU8(), "the rest starts at byte 32");

        final ChainWriter writer = new ChainWriter().load(memory, chain);
        final ChainWriter rest = writer.splitAt(64);

        assertEquals(64, writer.availableBytes());
        assertEquals(4, rest.availableBytes());
        rest.writeU32(0xa1a2_a3a4);
        assertEquals(0xa4, memory.getU8(BUFFERS + 128 + 64));
        assertEquals(0xa1, memory.getU8(BUFFERS + 128 + 67));
    }

    @Test
    void shouldSplitInsideDescriptor()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R16 R16 R96 W64 W1 W3"));

        final ChainReader other = reader.splitAt(24);

        assertEquals(24, reader.availableBytes());
        assertEquals(104, other.availableBytes());
        final byte[] first = new byte[40];
        assertEquals(24, reader.read(first, 0, 40));
        assertArrayEquals(sequence(0, 24), Arrays.copyOf(first, 24));
        final byte[] second = new byte[200];
        assertEquals(104, other.read(second, 0, 200));
        assertArrayEquals(sequence(24, 104), Arrays.copyOf(second, 104));
        assertEquals(104, other.bytesRead());
    }

    @Test
    void shouldSplitAtEndLeavingEmptyRest()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R16 R16 R96 W64 W1 W3"));

        final ChainReader other = reader.splitAt(128);

        assertEquals(128, reader.availableBytes());
        assertEquals(0, other.availableBytes());
        assertEquals(0, other.read(new byte[4], 0, 4));
    }

    @Test
    void shouldSplitAtBeginningLeavingEverythingToRest()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R16 R16 R96 W64 W1 W3"));

        final ChainReader other = reader.splitAt(0);

        assertEquals(0, reader.availableBytes());
        assertEquals(128, other.availableBytes());
        assertEquals(0, other.readU8());
    }

    @Test
    void shouldRejectSplitPastAvailableBytes()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R16 R16 R96 W64 W1 W3"));

        final QueueException e = assertThrows(QueueException.class, () -> reader.splitAt(256));

        assertEquals(QueueError.SPLIT_OUT_OF_BOUNDS, e.error());
        assertEquals("SPLIT_OUT_OF_BOUNDS: offset=256 available=128", e.getMessage());
        assertEquals(128, reader.availableBytes());
    }

    @Test
    void shouldSplitRelativeToUnreadBytes()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R10 R10"));
        assertEquals(0x0100, reader.readU16());
        assertEquals(0x0302, reader.readU16());

        final ChainReader rest = reader.splitAt(4);

        assertEquals(4, reader.availableBytes());
        assertEquals(12, rest.availableBytes());
        assertEquals(0x0706_0504, reader.readU32());
        assertEquals(0, reader.availableBytes());
        assertEquals(8, reader.bytesRead());
        assertEquals(8, rest.readU8());
        assertEquals(1, rest.bytesRead());
    }

    @Test
    void shouldSplitAtPositionReachedWithinDescriptor()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R10 R10"));
        reader.skip(3);

        final ChainReader rest = reader.splitAt(0);

        assertEquals(0, reader.availableBytes());
        assertEquals(17, rest.availableBytes());
        assertEquals(3, rest.readU8());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Short reads and writes
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldReadOnlyWhatChainHolds()
    {
        final ChainReader reader = new ChainReader().load(memory, chain(0, "R16 R16 R16"));
        final byte[] buf = new byte[64];

        assertEquals(48, reader.read(buf, 0, 64));
        assertArrayEquals(sequence(0, 48), Arrays.copyOf(buf, 48));
    }

    @Test
    void shouldWriteOnlyWhatChainHolds()
    {
        final ChainWriter writer = new ChainWriter().load(memory, chain(0, "W16 W16 W16"));
        final byte[] buf = new byte[64];
        Arrays.fill(buf, (byte)0xde);

        assertEquals(48, writer.write(buf, 0, 64));

        assertEquals(0xde, memory.getU8(BUFFERS + 47));
        assertEquals(48, memory.getU8(BUFFERS + 48));
        final ByteBuffer check = ByteBuffer.allocate(48);
        memory.read(BUFFERS, check);
        for (int i = 0; i < 48; i++)
        {
            assertEquals((byte)0xde, check.get(i));
        }
    }
}
