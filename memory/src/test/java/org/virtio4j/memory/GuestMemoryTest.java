package org.virtio4j.memory;

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
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.memory.GuestMemoryException.Kind.ADDRESS_OVERFLOW;
import static org.virtio4j.memory.GuestMemoryException.Kind.INVALID_BACKEND_ADDRESS;
import static org.virtio4j.memory.GuestMemoryException.Kind.INVALID_GUEST_ADDRESS;
import static org.virtio4j.memory.GuestMemoryException.Kind.PARTIAL_BUFFER;

/**
 * Guest memory: building it from regions, translating guest addresses at every edge (holes, region ends, adjacent
 * regions, 2^64), little-endian scalar accesses, the region-confined 16-bit accesses used for ring indices, and bulk
 * copies to and from arrays, buffers, segments and files.
 */
class GuestMemoryTest
{
    /** The last byte of the address space, 2^64 - 1: no region can hold it (a region's end would be 2^64). */
    private static final long TOP = 0xffff_ffff_ffff_ffffL;

    private final Arena arena = Arena.ofConfined();

    @TempDir
    Path tempDir;

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private GuestRegion region(final long base, final long size)
    {
        return new GuestRegion(base, arena.allocate(size, 4096));
    }

    /** [0x1000, 0x2000) and [0x2000, 0x3000), adjacent; a hole from 0x3000 to 0x5000; [0x5000, 0x6000). */
    private GuestMemory adjacentAndHole()
    {
        return GuestMemory.of(region(0x1000, 0x1000), region(0x2000, 0x1000), region(0x5000, 0x1000));
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

    private static GuestMemoryException fails(final Runnable access)
    {
        return assertThrows(GuestMemoryException.class, access::run);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Building
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldRejectOverlappingRegionsNamingBoth()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0x1000, 0x1000), region(0x1800, 0x1000)));

        assertEquals("guest memory region [0x1800, 0x2800) overlaps region [0x1000, 0x2000)", e.getMessage());
    }

    @Test
    void shouldRejectRegionsAtSameBase()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0x4000, 0x1000), region(0x4000, 0x2000)));

        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        assertTrue(e.getMessage().contains("0x4000"), e.getMessage());
    }

    @Test
    void shouldRejectOverlapGivenInAnyOrder()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0x9000, 0x1000), region(0x0, 0x1000), region(0x8fff, 0x10)));

        assertEquals("guest memory region [0x9000, 0xa000) overlaps region [0x8fff, 0x900f)", e.getMessage());
    }

    @Test
    void shouldRejectEmptyRegionNamingIt()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0x0, 0x1000), new GuestRegion(0x3000, arena.allocate(0))));

        assertEquals("guest memory region 1 at 0x3000 is empty", e.getMessage());
    }

    @Test
    void shouldRejectRegionWrappingPast2Pow64NamingIt()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0xffff_ffff_ffff_f000L, 0x2000)));

        assertEquals("guest memory region 0 at 0xfffffffffffff000 of 0x2000 bytes wraps past 2^64 - 1", e.getMessage());
    }

    @Test
    void shouldRejectRegionEndingExactlyAt2Pow64()
    {
        // As vm-memory: base + size must not overflow u64, so the byte 2^64 - 1 is never guest memory.
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestMemory.of(region(0xffff_ffff_ffff_f000L, 0x1000)));

        assertTrue(e.getMessage().contains("wraps past 2^64 - 1"), e.getMessage());
    }

    @Test
    void shouldSortRegionsAndAcceptAdjacentOnes()
    {
        final GuestRegion high = region(0x2000, 0x1000);
        final GuestRegion low = region(0x1000, 0x1000);

        final GuestMemory memory = GuestMemory.of(List.of(high, low));

        assertEquals(2, memory.regionCount());
        assertEquals(low, memory.region(0));
        assertEquals(high, memory.region(1));
        assertEquals(0x1000, memory.base(0));
        assertEquals(0x2000, memory.base(1));
        assertEquals(low.segment(), memory.segment(0));
        assertEquals("GuestMemory[[0x1000, 0x2000), [0x2000, 0x3000)]", memory.toString());
    }

    @Test
    void shouldSortRegionsAsUnsignedAddresses()
    {
        final GuestMemory memory = GuestMemory.of(region(0x8000_0000_0000_0000L, 0x1000), region(0x1000, 0x1000));

        assertEquals(0x1000, memory.base(0));
        assertEquals(0x8000_0000_0000_0000L, memory.base(1));
        assertEquals(1, memory.regionIndexOf(0x8000_0000_0000_0fffL));
    }

    @Test
    void shouldDescribeRegionAndRequireSegment()
    {
        final GuestRegion region = new GuestRegion(0x4000, arena.allocate(0x800), 0x7f00_0000_0000L);

        assertEquals(0x800, region.size());
        assertEquals(0x4800, region.end());
        assertEquals(0x7f00_0000_0000L, region.userAddress());
        assertEquals(0, new GuestRegion(0x4000, arena.allocate(1)).userAddress());
        assertEquals("[0x4000, 0x4800)", region.toString());
        assertEquals("segment", assertThrows(NullPointerException.class, () -> new GuestRegion(0, null)).getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Translation
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldFindRegionOfEveryAddressWithFewRegions()
    {
        final GuestMemory memory = adjacentAndHole();

        assertEquals(-1, memory.regionIndexOf(0x0fff));
        assertEquals(0, memory.regionIndexOf(0x1000));
        assertEquals(0, memory.regionIndexOf(0x1fff));
        assertEquals(1, memory.regionIndexOf(0x2000));
        assertEquals(1, memory.regionIndexOf(0x2fff));
        assertEquals(-1, memory.regionIndexOf(0x3000));
        assertEquals(-1, memory.regionIndexOf(0x4fff));
        assertEquals(2, memory.regionIndexOf(0x5000));
        assertEquals(-1, memory.regionIndexOf(0x6000));
        assertEquals(-1, memory.regionIndexOf(TOP));
    }

    @Test
    void shouldFindRegionOfEveryAddressWithManyRegions()
    {
        // Seven regions: past the linear search, a binary search over unsigned bases.
        final GuestRegion[] regions = new GuestRegion[7];
        for (int i = 0; i < regions.length; i++)
        {
            regions[i] = region(0x10_000L * (i + 1), 0x1000);
        }
        regions[6] = region(0xffff_ffff_0000_0000L, 0x1000);
        final GuestMemory memory = GuestMemory.of(regions);

        assertEquals(-1, memory.regionIndexOf(0));
        for (int i = 0; i < 6; i++)
        {
            final long base = 0x10_000L * (i + 1);
            assertEquals(-1, memory.regionIndexOf(base - 1), "below region " + i);
            assertEquals(i, memory.regionIndexOf(base), "base of region " + i);
            assertEquals(i, memory.regionIndexOf(base + 0xfff), "end of region " + i);
            assertEquals(-1, memory.regionIndexOf(base + 0x1000), "past region " + i);
        }
        assertEquals(6, memory.regionIndexOf(0xffff_ffff_0000_0800L));
        assertEquals(-1, memory.regionIndexOf(0xffff_ffff_0000_1000L));
        assertEquals(-1, memory.regionIndexOf(TOP));
    }

    @Test
    void shouldFailAccessToAddressInNoRegion()
    {
        final GuestMemory memory = adjacentAndHole();

        final GuestMemoryException e = fails(() -> memory.getU8(0x4000));

        assertEquals(INVALID_GUEST_ADDRESS, e.kind());
        assertEquals(0x4000, e.address());
        assertEquals(0, e.completed());
        assertEquals("guest address 0x4000 is in no memory region", e.getMessage());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.putU8(0x3000, 1)).kind());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.getU64(0x0)).kind());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.putU32(0x6000, 1)).kind());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.read(0x4000, new byte[4], 0, 4)).kind());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.write(0x4000, new byte[4], 0, 4)).kind());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.fill(0x4000, 4, (byte)1)).kind());
    }

    @Test
    void shouldReportPartialBufferWhenReadRunsIntoHole()
    {
        final GuestMemory memory = adjacentAndHole();
        memory.write(0x2ff8, sequence(1, 8), 0, 8);
        final byte[] dst = new byte[16];
        Arrays.fill(dst, (byte)0x55);

        final GuestMemoryException e = fails(() -> memory.read(0x2ff8, dst, 0, 16));

        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(0x2ff8, e.address());
        assertEquals(16, e.expected());
        assertEquals(8, e.completed());
        assertEquals("access at 0x2ff8 ran into a hole: 8 of 16 bytes done", e.getMessage());
        assertArrayEquals(sequence(1, 8), Arrays.copyOf(dst, 8), "the bytes before the hole were copied");
        assertEquals(0x55, dst[8]);
    }

    @Test
    void shouldWriteBytesBeforeHoleThenReportPartialBuffer()
    {
        final GuestMemory memory = adjacentAndHole();

        final GuestMemoryException e = fails(() -> memory.write(0x1ff0, sequence(0x10, 0x1020), 0, 0x1020));

        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(0x1010, e.completed());
        assertEquals(0x1020, e.expected());
        assertEquals(0x10, memory.getU8(0x1ff0));
        assertEquals(0x1f, memory.getU8(0x1fff));
        assertEquals(0x20, memory.getU8(0x2000), "written across into the adjacent region");
        assertEquals((0x10 + 0x100f) & 0xff, memory.getU8(0x2fff));
    }

    @Test
    void shouldStoreScalarBytesBeforeHoleThenReportPartialBuffer()
    {
        final GuestMemory memory = adjacentAndHole();

        final GuestMemoryException u64 = fails(() -> memory.putU64(0x2ffc, 0x1122_3344_5566_7788L));
        final GuestMemoryException u16 = fails(() -> memory.putU16(0x2fff, 0xabcd));

        assertEquals(PARTIAL_BUFFER, u64.kind());
        assertEquals(4, u64.completed());
        assertEquals(8, u64.expected());
        assertEquals(PARTIAL_BUFFER, u16.kind());
        assertEquals(1, u16.completed());
        assertEquals(0xcd, memory.getU8(0x2fff));
        assertEquals(0x88, memory.getU8(0x2ffc));
        assertEquals(0x66, memory.getU8(0x2ffe));
    }

    @Test
    void shouldReportPartialBufferWhenScalarLoadRunsIntoHole()
    {
        final GuestMemory memory = adjacentAndHole();

        final GuestMemoryException e = fails(() -> memory.getU32(0x2ffe));

        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(0x2ffe, e.address());
        assertEquals(4, e.expected());
        assertEquals(2, e.completed());
    }

    @Test
    void shouldFillUpToHoleThenReportPartialBuffer()
    {
        final GuestMemory memory = adjacentAndHole();

        final GuestMemoryException e = fails(() -> memory.fill(0x2ffe, 4, (byte)0x7e));

        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(2, e.completed());
        assertEquals(0x7e, memory.getU8(0x2ffe));
        assertEquals(0x7e, memory.getU8(0x2fff));
    }

    @Test
    void shouldAccessRangeSpanningTwoAdjacentRegions()
    {
        final GuestMemory memory = adjacentAndHole();

        memory.write(0x1ff8, sequence(0x20, 16), 0, 16);
        memory.putU64(0x1ffc, 0x0807_0605_0403_0201L);

        final byte[] back = new byte[16];
        memory.read(0x1ff8, back, 0, 16);
        assertArrayEquals(new byte[] {0x20, 0x21, 0x22, 0x23, 1, 2, 3, 4, 5, 6, 7, 8, 0x2c, 0x2d, 0x2e, 0x2f}, back);
        assertEquals(0x0807_0605_0403_0201L, memory.getU64(0x1ffc));
        assertEquals(0x0403_0201, memory.getU32(0x1ffc));
        assertEquals(0x0504, memory.getU16(0x1fff));

        memory.putU32(0x1ffe, 0xa1b2_c3d4);

        assertEquals(0xa1b2_c3d4, memory.getU32(0x1ffe));
        assertEquals(0xd4, memory.getU8(0x1ffe));
        assertEquals(0xc3, memory.getU8(0x1fff));
        assertEquals(0xb2, memory.getU8(0x2000));
        assertEquals(0xa1, memory.getU8(0x2001));
        assertEquals(0x07, memory.getU8(0x2002));
        assertTrue(memory.checkRange(0x1ff0, 0x20));
        assertTrue(memory.checkRange(0x1000, 0x2000));
        assertFalse(memory.checkRange(0x1000, 0x2001));
        assertEquals(0x1010, memory.coveredLength(0x1ff0, 0x5000));
        assertEquals(0x2000, memory.coveredLength(0x1000, TOP));
    }

    @Test
    void shouldCountCoveredBytesUpToFirstHole()
    {
        final GuestMemory memory = adjacentAndHole();

        assertEquals(0x10, memory.coveredLength(0x1000, 0x10));
        assertEquals(0x1001, memory.coveredLength(0x1fff, 0x1001));
        assertEquals(0x1001, memory.coveredLength(0x1fff, 0x1002));
        assertEquals(0, memory.coveredLength(0x3000, 0x10));
        assertEquals(0x1000, memory.coveredLength(0x5000, 0x1_0000));
        assertTrue(memory.checkRange(0x5000, 0x1000));
        assertFalse(memory.checkRange(0x2fff, 0x2002), "the hole between 0x3000 and 0x5000 breaks the range");
        assertFalse(memory.checkRange(0x4fff, 2));
    }

    @Test
    void shouldTreatZeroLengthRangesAsAlwaysBacked()
    {
        final GuestMemory memory = adjacentAndHole();
        final byte[] untouched = {9, 9};

        assertTrue(memory.checkRange(0x4000, 0));
        assertTrue(memory.checkRange(TOP, 0));
        assertEquals(0, memory.coveredLength(0x4000, 0));
        assertEquals(0, memory.coveredLength(0x1000, 0));
        memory.read(0x4000, untouched, 0, 0);
        memory.write(0x4000, untouched, 0, 0);
        memory.fill(0x4000, 0, (byte)1);
        memory.read(0x4000, ByteBuffer.allocate(0));
        assertArrayEquals(new byte[] {9, 9}, untouched);
        assertEquals(0, memory.regionHolding(0x1000, 0));
        assertEquals(0, memory.regionHolding(0x1fff, 0));
        assertEquals(0, memory.slice(0x1800, 0).byteSize());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.regionHolding(0x4000, 0)).kind());
    }

    @Test
    void shouldConfineSliceToOneRegion()
    {
        final GuestMemory memory = adjacentAndHole();
        memory.putU32(0x1ffc, 0xfeed_f00d);

        final MemorySegment slice = memory.slice(0x1ffc, 4);

        assertEquals(4, slice.byteSize());
        assertEquals(0xfeed_f00d, slice.get(GuestMemory.LE_U32, 0));
        assertEquals(1, memory.regionHolding(0x2000, 0x1000));
        final GuestMemoryException e = fails(() -> memory.slice(0x1ffc, 8));
        assertEquals(INVALID_BACKEND_ADDRESS, e.kind());
        assertEquals(0x1ffc, e.address());
        assertEquals(8, e.expected());
        assertEquals("access of 8 bytes at 0x1ffc runs past the end of its region", e.getMessage());
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.slice(0x3000, 1)).kind());
        assertEquals(INVALID_BACKEND_ADDRESS, fails(() -> memory.regionHolding(0x1000, TOP)).kind());
    }

    @Test
    void shouldRejectAtomicU16StraddlingTwoRegions()
    {
        final GuestMemory memory = adjacentAndHole();
        memory.putU16(0x1fff, 0x1234);

        for (final Runnable access : List.<Runnable>of(
            () -> memory.getU16Acquire(0x1fff),
            () -> memory.putU16Release(0x1fff, 1),
            () -> memory.getAtomicU16(0x1fff),
            () -> memory.putAtomicU16(0x1fff, 1)))
        {
            final GuestMemoryException e = fails(access);
            assertEquals(INVALID_BACKEND_ADDRESS, e.kind());
            assertEquals(0x1fff, e.address());
            assertEquals(2, e.expected());
        }
        assertEquals(0x1234, memory.getU16(0x1fff), "the non-atomic load may span; the failed stores wrote nothing");
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.getU16Acquire(0x3000)).kind());
        assertEquals(INVALID_BACKEND_ADDRESS, fails(() -> memory.getAtomicU16(0x5fff)).kind());
    }

    @Test
    void shouldNeverWrapPast2Pow64IntoLowRegion()
    {
        // The top region ends at 2^64 - 1; a region at 0 would be the next byte if addresses wrapped.
        final long topBase = 0xffff_ffff_ffff_efffL;
        final GuestMemory memory = GuestMemory.of(region(0, 0x1000), region(topBase, 0x1000));
        assertEquals(TOP, memory.region(1).end());
        memory.putU8(TOP - 1, 0xaa);
        memory.putU8(0, 0xbb);
        final byte[] dst = new byte[4];

        final GuestMemoryException read = fails(() -> memory.read(TOP - 1, dst, 0, 4));

        assertEquals(PARTIAL_BUFFER, read.kind());
        assertEquals(1, read.completed());
        assertArrayEquals(new byte[] {(byte)0xaa, 0, 0, 0}, dst);
        assertFalse(memory.checkRange(TOP - 1, 4));
        assertEquals(1, memory.coveredLength(TOP - 1, 4));
        assertEquals(0x1000, memory.coveredLength(topBase, TOP));
        assertTrue(memory.checkRange(topBase, 0x1000));
        assertFalse(memory.checkRange(topBase, 0x1001));
        assertEquals(INVALID_GUEST_ADDRESS, fails(() -> memory.getU8(TOP)).kind());
        assertEquals(PARTIAL_BUFFER, fails(() -> memory.getU16(TOP - 1)).kind());
        assertEquals(7, fails(() -> memory.getU64(TOP - 7)).completed());
        assertEquals(PARTIAL_BUFFER, fails(() -> memory.putU32(TOP - 2, -1)).kind());
        assertEquals(0xbb, memory.getU8(0), "nothing wrapped round to address 0");
        assertEquals(PARTIAL_BUFFER, fails(() -> memory.fill(TOP - 1, 3, (byte)0)).kind());
        assertEquals(0xbb, memory.getU8(0));
        assertEquals(INVALID_BACKEND_ADDRESS, fails(() -> memory.getU16Acquire(TOP - 1)).kind());
        assertEquals(INVALID_BACKEND_ADDRESS, fails(() -> memory.slice(TOP - 1, 2)).kind());
    }

    @Test
    void shouldRefuseRangeWhoseEndOverflows2Pow64()
    {
        final GuestMemory memory = GuestMemory.of(region(0, 0x1000), region(0xffff_ffff_ffff_e000L, 0x1000));

        // 0xffff_ffff_ffff_e000 + 0x2001 wraps to 1, which is inside the low region.
        assertFalse(memory.checkRange(0xffff_ffff_ffff_e000L, 0x2001));
        assertEquals(0x1000, memory.coveredLength(0xffff_ffff_ffff_e000L, 0x2001));
        final GuestMemoryException e = fails(() -> memory.read(0xffff_ffff_ffff_e000L, arena.allocate(0x2001), 0, 0x2001));
        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(0x1000, e.completed());
        assertFalse(memory.checkRange(0x800, TOP));
        assertEquals(0x800, memory.coveredLength(0x800, TOP));
    }

    @Test
    void shouldRejectCopyWhoseUnsignedLengthPasses2Pow64() throws IOException
    {
        // A length of 2^64 - 1 from 0x1000 passes 2^64 (and runs into the hole at 0x2000); the file transfers
        // refuse it before moving a byte.
        final GuestMemory memory = GuestMemory.of(region(0x1000, 0x1000));
        final Path file = tempDir.resolve("huge.bin");
        Files.write(file, new byte[16]);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            assertEquals(PARTIAL_BUFFER, assertThrows(GuestMemoryException.class,
                () -> memory.readFromFile(channel, 0, 0x1000, TOP)).kind());
        }
        // Bulk copies treat the length as unsigned: they copy up to the hole, then fail with the bytes done.
        final MemorySegment big = arena.allocate(0x2000);
        final GuestMemoryException read = assertThrows(GuestMemoryException.class, () -> memory.read(0x1000, big, 0, 0x2000));
        assertEquals(PARTIAL_BUFFER, read.kind());
        assertEquals(0x1000, read.completed());
        // A host buffer shorter than the length is the caller's bug, not the guest's: the segment bounds check
        // refuses it before any guest byte is written.
        final MemorySegment small = arena.allocate(16);
        assertThrows(IndexOutOfBoundsException.class, () -> memory.write(0x1000, small, 0, TOP));
        assertEquals(0, memory.getU8(0x1000), "no guest byte written");
    }

    @Test
    void shouldRejectFillWhoseUnsignedLengthPasses2Pow64()
    {
        final GuestMemory memory = GuestMemory.of(region(0x1000, 0x1000));

        final GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> memory.fill(0x1000, TOP, (byte)1));

        assertEquals(PARTIAL_BUFFER, e.kind());
        assertEquals(0x1000, e.completed());
    }

    @Test
    void shouldDetectUnsignedAdditionOverflow()
    {
        assertFalse(GuestAddress.addOverflows(0xffff_ffff_ffff_fff0L, 0xf));
        assertTrue(GuestAddress.addOverflows(0xffff_ffff_ffff_fff0L, 0x10));
        assertTrue(GuestAddress.addOverflows(1, TOP));
        assertFalse(GuestAddress.addOverflows(0, TOP));
        assertEquals(new GuestAddress(0x1010), new GuestAddress(0x1000).checkedAdd(0x10));
        assertEquals(new GuestAddress(TOP), new GuestAddress(0xffff_ffff_ffff_fff0L).checkedAdd(0xf));
        final ArithmeticException e = assertThrows(ArithmeticException.class,
            () -> new GuestAddress(0xffff_ffff_ffff_fff0L).checkedAdd(0x10));
        assertEquals("guest address overflow: 0xfffffffffffffff0 + 0x10", e.getMessage());
        assertEquals("0xffffffffffffffff", GuestAddress.hex(TOP));
        assertTrue(new GuestAddress(TOP).compareTo(new GuestAddress(1)) > 0, "compared unsigned");
    }

    @Test
    void shouldDescribeEveryErrorKind()
    {
        assertEquals("guest address 0x10 is in no memory region", GuestMemoryException.invalidAddress(0x10).getMessage());
        assertEquals("access at 0x20 ran into a hole: 3 of 8 bytes done",
            new GuestMemoryException(PARTIAL_BUFFER, 0x20, 8, 3).getMessage());
        assertEquals("access of 2 bytes at 0x30 runs past the end of its region",
            new GuestMemoryException(INVALID_BACKEND_ADDRESS, 0x30, 2, 0).getMessage());
        assertEquals("address 0xfffffffffffffff0 + 32 passes 2^64",
            new GuestMemoryException(ADDRESS_OVERFLOW, 0xffff_ffff_ffff_fff0L, 32, 0).getMessage());
        assertEquals(0, GuestMemoryException.invalidAddress(0x10).getStackTrace().length, "no stack trace");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Scalars
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldStoreAndLoadLittleEndianScalars()
    {
        final GuestMemory memory = GuestMemory.of(region(0x1000, 0x1000));

        memory.putU64(0x1000, 0x0102_0304_0506_0708L);

        assertEquals(0x08, memory.getU8(0x1000));
        assertEquals(0x01, memory.getU8(0x1007));
        assertEquals(0x0708, memory.getU16(0x1000));
        assertEquals(0x0506_0708, memory.getU32(0x1000));
        assertEquals(0x0304_0506, memory.getU32(0x1002));
        assertEquals(0x0102_0304_0506_0708L, memory.getU64(0x1000));
        assertEquals(0x0607, memory.getU16(0x1001), "unaligned");

        memory.putU32(0x1010, 0xdead_beef);
        assertEquals(0xef, memory.getU8(0x1010));
        assertEquals(0xde, memory.getU8(0x1013));
        memory.putU16(0x1020, 0x1_abcd);
        assertEquals(0xabcd, memory.getU16(0x1020), "only the low 16 bits are stored");
        assertEquals(0, memory.getU8(0x1022), "the byte after is untouched");
        memory.putU8(0x1030, 0x1ff);
        assertEquals(0xff, memory.getU8(0x1030));
        assertEquals(0, memory.getU8(0x1031));
    }

    @Test
    void shouldLoadScalarsAsUnsignedValues()
    {
        final GuestMemory memory = GuestMemory.of(region(0, 0x100));

        memory.putU64(0, -1L);

        assertEquals(0xff, memory.getU8(0));
        assertEquals(0xffff, memory.getU16(0));
        assertEquals(-1, memory.getU32(0));
        assertEquals(0xffff_ffffL, Integer.toUnsignedLong(memory.getU32(0)));
        assertEquals(-1L, memory.getU64(0));
        assertEquals(0xffff, memory.getU16Acquire(0));
        assertEquals(0xffff, memory.getAtomicU16(0));
    }

    @Test
    void shouldStoreAndLoadU16WithReleaseAndAcquireAtEvenAndOddAddresses()
    {
        final GuestMemory memory = GuestMemory.of(region(0x1000, 0x1000));

        memory.putU16Release(0x1002, 0xabcd);
        memory.putU16Release(0x1011, 0x1_fffe);

        assertEquals(0xabcd, memory.getU16Acquire(0x1002));
        assertEquals(0xcd, memory.getU8(0x1002), "little-endian");
        assertEquals(0xab, memory.getU8(0x1003));
        assertEquals(0xfffe, memory.getU16Acquire(0x1011));
        assertEquals(0xfe, memory.getU8(0x1011));
        assertEquals(0, memory.getU8(0x1013));
        memory.putAtomicU16(0x1fff - 1, 0x4321);
        assertEquals(0x4321, memory.getAtomicU16(0x1ffe));
        assertEquals(0x4321, memory.getU16(0x1ffe));
        GuestMemory.fullFence();
        GuestMemory.acquireFence();
        GuestMemory.releaseFence();
        assertEquals(0x4321, memory.getU16Acquire(0x1ffe));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bulk copies
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldCopyToAndFromByteArraysAtOffsets()
    {
        final GuestMemory memory = adjacentAndHole();
        final byte[] src = sequence(0x40, 32);

        memory.write(0x1ff0, src, 8, 20);
        final byte[] dst = new byte[30];
        memory.read(0x1ff0, dst, 5, 20);

        assertArrayEquals(Arrays.copyOfRange(src, 8, 28), Arrays.copyOfRange(dst, 5, 25));
        assertEquals(0, dst[4]);
        assertEquals(0, dst[25]);
        assertEquals(0x48, memory.getU8(0x1ff0));
        assertEquals(0x5b, memory.getU8(0x2003));
        assertEquals(0, memory.getU8(0x2004));
        assertThrows(IndexOutOfBoundsException.class, () -> memory.read(0x1000, new byte[4], 2, 4));
    }

    @Test
    void shouldCopyToAndFromHeapAndDirectByteBuffersAdvancingPosition()
    {
        final GuestMemory memory = adjacentAndHole();
        final ByteBuffer heap = ByteBuffer.wrap(sequence(1, 12));
        heap.position(2).limit(10);

        memory.write(0x1ffc, heap);

        assertEquals(10, heap.position());
        assertEquals(3, memory.getU8(0x1ffc));
        assertEquals(10, memory.getU8(0x2003));
        assertEquals(0, memory.getU8(0x2004));

        final ByteBuffer direct = ByteBuffer.allocateDirect(16);
        direct.position(4).limit(12);
        memory.read(0x1ffc, direct);

        assertEquals(12, direct.position());
        direct.limit(16);
        assertEquals(3, direct.get(4));
        assertEquals(10, direct.get(11));
        assertEquals(0, direct.get(3));
        assertEquals(0, direct.get(12));
    }

    @Test
    void shouldLeaveBufferPositionWhenCopyFails()
    {
        final GuestMemory memory = adjacentAndHole();
        final ByteBuffer buffer = ByteBuffer.allocate(8);

        assertEquals(PARTIAL_BUFFER, fails(() -> memory.read(0x2ffc, buffer)).kind());

        assertEquals(0, buffer.position());
    }

    @Test
    void shouldCopyToAndFromMemorySegments()
    {
        final GuestMemory memory = adjacentAndHole();
        final MemorySegment src = MemorySegment.ofArray(sequence(0x70, 16));
        final MemorySegment dst = arena.allocate(16);

        memory.write(0x2ffa, src, 2, 6);
        memory.read(0x2ffa, dst, 10, 6);

        assertEquals(0x72, memory.getU8(0x2ffa));
        assertEquals(0x77, memory.getU8(0x2fff));
        assertEquals(0x72, dst.get(ValueLayout.JAVA_BYTE, 10));
        assertEquals(0x77, dst.get(ValueLayout.JAVA_BYTE, 15));
        assertEquals(0, dst.get(ValueLayout.JAVA_BYTE, 9));
    }

    @Test
    void shouldFillAcrossAdjacentRegions()
    {
        final GuestMemory memory = adjacentAndHole();

        memory.fill(0x1ffe, 4, (byte)0x5a);

        assertEquals(0, memory.getU8(0x1ffd));
        assertEquals(0x5a5a_5a5a, memory.getU32(0x1ffe));
        assertEquals(0, memory.getU8(0x2002));
    }

    @Test
    void shouldTransferBetweenFileAndMemoryAcrossAdjacentRegions() throws IOException
    {
        final GuestMemory memory = adjacentAndHole();
        final Path file = tempDir.resolve("data.bin");
        Files.write(file, sequence(0x90, 64));

        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            assertEquals(32, memory.readFromFile(channel, 8, 0x1ff0, 32));
            assertEquals(0x98, memory.getU8(0x1ff0));
            assertEquals(0x98 + 31, memory.getU8(0x200f));

            memory.fill(0x1ff8, 16, (byte)0x11);
            assertEquals(16, memory.writeToFile(channel, 100, 0x1ff8, 16));
            assertEquals(116, channel.size());
            assertEquals(0, channel.position(), "positional transfers leave the channel position alone");
        }

        final byte[] content = Files.readAllBytes(file);
        for (int i = 100; i < 116; i++)
        {
            assertEquals(0x11, content[i], "file byte " + i);
        }
        assertEquals(0, content[99], "the gap the write opened reads as zero");
    }

    @Test
    void shouldReadFewerBytesAtEndOfFile() throws IOException
    {
        final GuestMemory memory = adjacentAndHole();
        final Path file = tempDir.resolve("short.bin");
        Files.write(file, sequence(1, 10));

        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            assertEquals(10, memory.readFromFile(channel, 0, 0x1ffc, 16));
            assertEquals(4, memory.readFromFile(channel, 6, 0x1000, 100));
        }
        assertEquals(1, memory.getU8(0x1ffc));
        assertEquals(10, memory.getU8(0x2005));
        assertEquals(0, memory.getU8(0x2006));
        assertEquals(7, memory.getU8(0x1000));
    }

    @Test
    void shouldCheckWholeGuestRangeBeforeAnyFileTransfer() throws IOException
    {
        final GuestMemory memory = adjacentAndHole();
        final Path file = tempDir.resolve("untouched.bin");
        Files.write(file, sequence(1, 64));

        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final GuestMemoryException in = assertThrows(GuestMemoryException.class, () -> memory.readFromFile(channel, 0, 0x2ff0, 32));
            final GuestMemoryException out = assertThrows(GuestMemoryException.class, () -> memory.writeToFile(channel, 0, 0x2ff0, 32));
            final GuestMemoryException none = assertThrows(GuestMemoryException.class, () -> memory.writeToFile(channel, 0, 0x4000, 1));

            assertEquals(PARTIAL_BUFFER, in.kind());
            assertEquals(0x10, in.completed());
            assertEquals(PARTIAL_BUFFER, out.kind());
            assertEquals(INVALID_GUEST_ADDRESS, none.kind());
        }
        assertEquals(0, memory.getU8(0x2ff0), "nothing was read into guest memory");
        assertArrayEquals(sequence(1, 64), Files.readAllBytes(file), "nothing was written to the file");
    }
}
