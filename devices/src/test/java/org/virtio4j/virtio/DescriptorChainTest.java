package org.virtio4j.virtio;

import java.lang.foreign.Arena;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Walking descriptor chains: vm-virtio's {@code chain.rs} tests ({@code test_checked_new_descriptor_chain},
 * {@code test_ttl_wrap_around}, {@code test_new_from_indirect_descriptor},
 * {@code test_indirect_descriptor_address_noaligned}, {@code test_indirect_descriptor_err}) and the split
 * descriptor tests of {@code desc/split.rs} and {@code desc/mod.rs} (field getters, flag predicates, copying the
 * descriptor out of guest memory), ported to the {@link DescriptorChain} cursor. Where vm-virtio's iterator ends
 * silently, the tests also assert the {@link ChainEnd} reason.
 *
 * <p>Not ported: {@code desc/packed.rs} and the packed halves of {@code desc/mod.rs} (virtio4j has no packed
 * descriptor: split rings only, like vm-virtio's queue), the descriptor setters (the cursor is read-only; the
 * driver writes descriptors), and {@code RawDescriptor} conversions (there is no descriptor value type: fields are
 * read straight from guest memory). vm-virtio asserts its private {@code ttl}; the cursor has no ttl getter, so
 * the tests count the descriptors yielded instead.
 */
class DescriptorChainTest
{
    private static final int QUEUE_SIZE = 16;
    private static final int F_NEXT = DescriptorLayout.F_NEXT;
    private static final int F_WRITE = DescriptorLayout.F_WRITE;
    private static final int F_INDIRECT = DescriptorLayout.F_INDIRECT;

    private final Arena arena = Arena.ofConfined();
    private GuestMemory memory;
    private DriverQueue driver;
    private final DescriptorChain chain = new DescriptorChain();

    @BeforeEach
    void setUp()
    {
        memory = GuestMemory.of(new GuestRegion(0, arena.allocate(0x10000, 4096)));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        assertTrue(DriverQueue.layoutBytes(QUEUE_SIZE) < 0x1000);
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private DescriptorChain chainAt(final int head)
    {
        return chain.reset(memory, driver.descTable(), QUEUE_SIZE, head);
    }

    private void writeRaw(final long at, final long addr, final int len, final int flags, final int next)
    {
        memory.putU64(at, addr);
        memory.putU32(at + 8, len);
        memory.putU16(at + 12, flags);
        memory.putU16(at + 14, next);
    }

    private static int count(final DescriptorChain chain)
    {
        int n = 0;
        while (chain.next())
        {
            n++;
        }
        return n;
    }

    @Test
    void shouldYieldNothingForHeadIndexAtQueueSize()
    {
        chainAt(QUEUE_SIZE);

        assertFalse(chain.next());
        assertEquals(ChainEnd.INDEX_OUT_OF_RANGE, chain.end());
        assertTrue(chain.end().isMalformed());
        assertEquals(0, chain.yieldedBytes());
    }

    @Test
    void shouldYieldNothingWhenDescriptorTableIsOutsideMemory()
    {
        chain.reset(memory, 0x00ff_ffff_ffffL, QUEUE_SIZE, 0);

        assertFalse(chain.next());

        assertEquals(ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, chain.end());
        assertEquals(GuestMemoryException.Kind.INVALID_GUEST_ADDRESS, chain.memoryError().kind());
        assertEquals(0x00ff_ffff_ffffL, chain.memoryError().address());
    }

    @Test
    void shouldYieldNothingWhenDescriptorTableAddressOverflows()
    {
        chain.reset(memory, 0xffff_ffff_ffff_fff0L, QUEUE_SIZE, 1);

        assertFalse(chain.next());

        assertEquals(ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, chain.end());
        assertNull(chain.memoryError(), "no memory access was tried");
    }

    @Test
    void shouldEndChainWhoseNextIndexIsOutOfRange()
    {
        driver.writeDescriptor(0, 0x1000, 0x1000, F_NEXT, QUEUE_SIZE);
        chainAt(0);

        assertTrue(chain.next());
        assertEquals(QUEUE_SIZE, chain.nextField());
        assertFalse(chain.next());

        assertEquals(ChainEnd.INDEX_OUT_OF_RANGE, chain.end());
        assertEquals(0x1000, chain.yieldedBytes());
    }

    @Test
    void shouldWalkWellFormedChainAndExposeEachDescriptorsFields()
    {
        driver.writeDescriptor(0, 0x1000, 0x1000, F_NEXT, 1);
        driver.writeDescriptor(1, 0x2000, 0x1000, 0, 0);
        chainAt(0);

        assertSame(memory, chain.memory());
        assertEquals(driver.descTable(), chain.descTable());
        assertEquals(QUEUE_SIZE, chain.tableSize());
        assertEquals(0, chain.headIndex());
        assertEquals(ChainEnd.NONE, chain.end());
        assertFalse(chain.end().isMalformed());

        assertTrue(chain.next());
        assertEquals(0x1000, chain.addr());
        assertEquals(0x1000, chain.len());
        assertEquals(F_NEXT, chain.flags());
        assertEquals(1, chain.nextField());
        assertTrue(chain.hasNext());
        assertFalse(chain.isWriteOnly());
        assertFalse(chain.inIndirectTable());

        assertTrue(chain.next());
        assertEquals(0x2000, chain.addr());
        assertEquals(0, chain.flags());
        assertFalse(chain.hasNext());
        assertEquals(ChainEnd.NONE, chain.end(), "not ended until next() finds no more");

        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertEquals(0x2000, chain.yieldedBytes());
    }

    @Test
    void shouldExposeFullWidthFieldsAsUnsignedValues()
    {
        driver.writeDescriptor(3, 0xffff_ffff_ffff_f000L, 0xffff_fff0, F_WRITE, 0xffff);
        chainAt(3);

        assertTrue(chain.next());

        assertEquals(0xffff_ffff_ffff_f000L, chain.addr());
        assertEquals(0xffff_fff0, chain.len());
        assertEquals(4294967280L, chain.lenUnsigned());
        assertEquals(F_WRITE, chain.flags());
        assertEquals(0xffff, chain.nextField());
        assertTrue(chain.isWriteOnly());
        assertFalse(chain.hasNext());
        assertEquals(3, chain.headIndex());
    }

    @Test
    void shouldAllowChainUsingEveryDescriptorOfTheTable()
    {
        for (int i = 0; i < QUEUE_SIZE - 1; i++)
        {
            driver.writeDescriptor(i, 0x1000L * (i + 1), 0x1000, F_NEXT, i + 1);
        }
        driver.writeDescriptor(QUEUE_SIZE - 1, 0x1000L * QUEUE_SIZE, 0x1000, 0, 0);
        chainAt(0);

        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            assertTrue(chain.next(), "descriptor " + i);
            assertEquals(0x1000L * (i + 1), chain.addr());
        }
        assertFalse(chain.next());

        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertEquals(0x1000L * QUEUE_SIZE, chain.yieldedBytes());
    }

    @Test
    void shouldRejectChainLongerThanQueueSize()
    {
        // A loop 0 -> 1 -> 0 -> ...: the walk stops after as many descriptors as the table holds.
        driver.writeDescriptor(0, 0x1000, 0x10, F_NEXT, 1);
        driver.writeDescriptor(1, 0x2000, 0x10, F_NEXT, 0);
        chainAt(0);

        assertEquals(QUEUE_SIZE, count(chain));

        assertEquals(ChainEnd.TTL_EXPIRED, chain.end());
        assertTrue(chain.end().isMalformed());
        assertEquals(0x10L * QUEUE_SIZE, chain.yieldedBytes());
    }

    @Test
    void shouldRejectSelfReferentialDescriptorAfterQueueSizeYields()
    {
        driver.writeDescriptor(5, 0x1000, 1, F_NEXT, 5);
        chainAt(5);

        assertEquals(QUEUE_SIZE, count(chain));
        assertEquals(ChainEnd.TTL_EXPIRED, chain.end());
    }

    @Test
    void shouldSwitchToIndirectTableIgnoringNextFlagAndLaterMainDescriptors()
    {
        driver.writeDescriptor(0, 0x6000, 0x1000, F_NEXT, 1);
        // INDIRECT | NEXT is forbidden to drivers; NEXT is ignored, so descriptor 2 is never reached.
        driver.writeDescriptor(1, 0x7000, 4 * 16, F_INDIRECT | F_NEXT, 2);
        driver.writeDescriptor(2, 0x8000, 0x1000, 0, 0);
        for (int i = 0; i < 4; i++)
        {
            writeRaw(0x7000 + 16L * i, 0x1000L * i, 0x1000, i < 3 ? F_NEXT : 0, i < 3 ? i + 1 : 0);
        }
        chainAt(0);
        assertEquals(0, chain.headIndex());

        assertTrue(chain.next());
        assertEquals(0x6000, chain.addr());
        assertFalse(chain.inIndirectTable());

        for (int i = 0; i < 4; i++)
        {
            assertTrue(chain.next(), "indirect descriptor " + i);
            assertTrue(chain.inIndirectTable());
            assertEquals(0x1000L * i, chain.addr());
            if (i < 3)
            {
                assertEquals(F_NEXT, chain.flags());
                assertEquals(i + 1, chain.nextField());
            }
        }
        assertFalse(chain.next());

        assertEquals(ChainEnd.COMPLETE, chain.end());
        // The INDIRECT descriptor's own length is not part of the chain's bytes.
        assertEquals(5 * 0x1000L, chain.yieldedBytes());
        assertEquals(0, chain.headIndex());
    }

    @Test
    void shouldAcceptIndirectTableAtUnalignedAddress()
    {
        driver.writeDescriptor(0, 0x7001, 4 * 16, F_INDIRECT | F_NEXT, 2);
        for (int i = 0; i < 4; i++)
        {
            writeRaw(0x7001 + 16L * i, 0x1000L * i, 0x1000, i < 3 ? F_NEXT : 0, i < 3 ? i + 1 : 0);
        }
        chainAt(0);

        for (int i = 0; i < 4; i++)
        {
            assertTrue(chain.next(), "indirect descriptor " + i);
            assertTrue(chain.inIndirectTable());
            if (i < 3)
            {
                assertEquals(F_NEXT, chain.flags());
                assertEquals(i + 1, chain.nextField());
            }
        }
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
    }

    @Test
    void shouldRejectIndirectTableWhoseLengthIsNotMultipleOf16()
    {
        driver.writeDescriptor(0, 0x1000, 0x1001, F_INDIRECT, 0);
        chainAt(0);

        assertFalse(chain.next());
        assertEquals(ChainEnd.BAD_INDIRECT_TABLE, chain.end());
    }

    @Test
    void shouldRejectIndirectTableOfMoreThan65535Entries()
    {
        driver.writeDescriptor(0, 0x1000, (0xffff + 1) * 16, F_INDIRECT, 0);
        chainAt(0);

        assertFalse(chain.next());
        assertEquals(ChainEnd.BAD_INDIRECT_TABLE, chain.end());
    }

    @Test
    void shouldAcceptIndirectTableOfExactly65535Entries()
    {
        driver.writeDescriptor(0, 0x1000, 0xffff * 16, F_INDIRECT, 0);
        writeRaw(0x1000, 0x3000, 0x20, 0, 0);
        chainAt(0);

        assertTrue(chain.next());
        assertEquals(0x3000, chain.addr());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
    }

    @Test
    void shouldAcceptIndirectEntryWithZeroFlagsButRejectNestedIndirect()
    {
        driver.writeDescriptor(0, 0x1000, 0x1000, F_INDIRECT, 0);
        writeRaw(0x1000, 0x3000, 0x1000, 0, 0);
        chainAt(0);

        assertTrue(chain.next());
        assertEquals(0x3000, chain.addr());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());

        writeRaw(0x1000, 0x3000, 0x1000, F_INDIRECT, 0);
        chainAt(0);

        assertFalse(chain.next());
        assertEquals(ChainEnd.NESTED_INDIRECT, chain.end());
    }

    @Test
    void shouldYieldNothingFromZeroLengthIndirectTable()
    {
        driver.writeDescriptor(0, 0x1000, 0, F_INDIRECT, 0);
        writeRaw(0x1000, 0x3000, 0x10, 0, 0);
        chainAt(0);

        assertFalse(chain.next());
        assertEquals(ChainEnd.BAD_INDIRECT_TABLE, chain.end());
        assertEquals(0, chain.yieldedBytes());
    }

    @Test
    void shouldIgnoreWriteFlagOfIndirectDescriptor()
    {
        driver.writeDescriptor(0, 0x1000, 32, F_INDIRECT | F_WRITE, 0);
        writeRaw(0x1000, 0x3000, 0x10, F_NEXT, 1);
        writeRaw(0x1010, 0x4000, 0x20, F_WRITE, 0);
        chainAt(0);

        assertTrue(chain.next());
        assertFalse(chain.isWriteOnly(), "the table's WRITE flag does not spread to its entries");
        assertTrue(chain.next());
        assertTrue(chain.isWriteOnly());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
    }

    @Test
    void shouldLoopInIndirectTableAtMostItsEntryCount()
    {
        driver.writeDescriptor(0, 0x1000, 3 * 16, F_INDIRECT, 0);
        writeRaw(0x1000, 0x3000, 1, F_NEXT, 1);
        writeRaw(0x1010, 0x3000, 1, F_NEXT, 0);
        chainAt(0);

        assertEquals(3, count(chain));
        assertEquals(ChainEnd.TTL_EXPIRED, chain.end());
    }

    @Test
    void shouldEndIndirectChainWhoseNextIndexIsOutsideTheTable()
    {
        driver.writeDescriptor(0, 0x1000, 2 * 16, F_INDIRECT, 0);
        writeRaw(0x1000, 0x3000, 1, F_NEXT, 2);
        chainAt(0);

        assertEquals(1, count(chain));
        assertEquals(ChainEnd.INDEX_OUT_OF_RANGE, chain.end());
    }

    @Test
    void shouldAllowChainOfExactly2Pow32Minus1BytesAndStopAtOneMore()
    {
        driver.writeDescriptor(0, 0x1000, 0x8000_0000, F_NEXT, 1);
        driver.writeDescriptor(1, 0x1000, 0x7fff_ffff, 0, 0);
        chainAt(0);

        assertEquals(2, count(chain));
        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertEquals(0xffff_ffffL, chain.yieldedBytes());

        driver.writeDescriptor(1, 0x1000, 0x8000_0000, 0, 0);
        chainAt(0);

        assertEquals(1, count(chain));
        assertEquals(ChainEnd.LENGTH_OVERFLOW, chain.end());
        assertEquals(0x8000_0000L, chain.yieldedBytes());
    }

    @Test
    void shouldEndChainWhenNextDescriptorIsPastEndOfMemory()
    {
        // A table whose first entry is the last 16 bytes of memory.
        final long table = 0x10000 - 16;
        writeRaw(table, 0x1000, 0x10, F_NEXT, 1);
        chain.reset(memory, table, QUEUE_SIZE, 0);

        assertTrue(chain.next());
        assertFalse(chain.next());

        assertEquals(ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, chain.end());
        assertEquals(0x10000, chain.memoryError().address());
    }

    @Test
    void shouldReadDescriptorThatSpansTwoAdjacentRegions()
    {
        final GuestMemory split = GuestMemory.of(
            new GuestRegion(0, arena.allocate(0x1000, 4096)), new GuestRegion(0x1000, arena.allocate(0x1000, 4096)));
        // Entry 1 of a table at 0xff8 starts at 0x1008; entry 0 is split 8 / 8 across the regions.
        split.putU64(0xff8, 0x1122_3344_5566_7788L);
        split.putU32(0x1000, 0x40);
        split.putU16(0x1004, F_NEXT | F_WRITE);
        split.putU16(0x1006, 1);
        chain.reset(split, 0xff8, 2, 0);

        assertTrue(chain.next());

        assertEquals(0x1122_3344_5566_7788L, chain.addr());
        assertEquals(0x40, chain.len());
        assertEquals(F_NEXT | F_WRITE, chain.flags());
        assertEquals(1, chain.nextField());
    }

    @Test
    void shouldEndChainWhenDescriptorRunsIntoHole()
    {
        final GuestMemory holed = GuestMemory.of(new GuestRegion(0, arena.allocate(0x1000, 4096)));
        // The descriptor's first 4 bytes are the last of memory.
        chain.reset(holed, 0xffc, 2, 0);

        assertFalse(chain.next());

        assertEquals(ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, chain.end());
        assertEquals(GuestMemoryException.Kind.PARTIAL_BUFFER, chain.memoryError().kind());
        assertEquals(0xffc, chain.memoryError().address());
        assertEquals(4, chain.memoryError().completed());
    }

    @Test
    void shouldKeepCopiedFieldsWhenGuestRewritesDescriptorAndRereadAfterRewind()
    {
        driver.writeDescriptor(0, 0x1000, 0x100, F_NEXT, 1);
        driver.writeDescriptor(1, 0x2000, 0x200, 0, 0);
        chainAt(0);
        assertTrue(chain.next());

        driver.writeDescriptor(0, 0x9000, 0x900, F_WRITE, 0);

        assertEquals(0x1000, chain.addr());
        assertEquals(0x100, chain.len());
        assertEquals(F_NEXT, chain.flags());
        assertEquals(1, chain.nextField());
        assertTrue(chain.next());
        assertEquals(0x2000, chain.addr());

        chain.rewind();

        assertEquals(ChainEnd.NONE, chain.end());
        assertEquals(0, chain.yieldedBytes());
        assertTrue(chain.next());
        assertEquals(0x9000, chain.addr());
        assertTrue(chain.isWriteOnly());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());
    }

    @Test
    void shouldCopyCursorRewoundAndIndependent()
    {
        driver.writeDescriptor(0, 0x1000, 0x100, F_NEXT, 1);
        driver.writeDescriptor(1, 0x2000, 0x200, 0, 0);
        chainAt(0);
        assertTrue(chain.next());

        final DescriptorChain copy = chain.copy();

        assertNotSame(chain, copy);
        assertEquals(0, copy.headIndex());
        assertEquals(ChainEnd.NONE, copy.end());
        assertEquals(2, count(copy));
        assertEquals(0x300, copy.yieldedBytes());
        assertEquals(0x1000, chain.addr(), "the original cursor did not move");
        assertEquals(0x100, chain.yieldedBytes());
    }

    @Test
    void shouldSkipMismatchedDescriptorsWithoutStoppingWhenFiltering()
    {
        // R, W, R, W: each filter sees two descriptors, past the ones of the other direction.
        driver.writeDescriptor(0, 0x1000, 1, F_NEXT, 1);
        driver.writeDescriptor(1, 0x2000, 2, F_NEXT | F_WRITE, 2);
        driver.writeDescriptor(2, 0x3000, 3, F_NEXT, 3);
        driver.writeDescriptor(3, 0x4000, 4, F_WRITE, 0);

        chainAt(0);
        assertTrue(chain.nextReadable());
        assertEquals(0x1000, chain.addr());
        assertTrue(chain.nextReadable());
        assertEquals(0x3000, chain.addr());
        assertFalse(chain.nextReadable());
        assertEquals(ChainEnd.COMPLETE, chain.end());

        chainAt(0);
        assertTrue(chain.nextWritable());
        assertEquals(0x2000, chain.addr());
        assertTrue(chain.nextWritable());
        assertEquals(0x4000, chain.addr());
        assertFalse(chain.nextWritable());
        assertEquals(ChainEnd.COMPLETE, chain.end());
    }

    @Test
    void shouldWalkChainsBuiltByDriver()
    {
        final int direct = driver.addChain(DriverBuffer.readable(0x2000, 16), DriverBuffer.writable(0x3000, 64));
        final int indirect = driver.addIndirectChain(0x4000,
            DriverBuffer.readable(0x5000, 8), DriverBuffer.readable(0x5100, 8), DriverBuffer.writable(0x6000, 1));

        chainAt(direct);
        assertEquals(2, count(chain));
        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertEquals(80, chain.yieldedBytes());

        chainAt(indirect);
        assertTrue(chain.next());
        assertTrue(chain.inIndirectTable());
        assertEquals(0x5000, chain.addr());
        assertEquals(2, count(chain));
        assertTrue(chain.isWriteOnly());
        assertEquals(ChainEnd.COMPLETE, chain.end());
        assertEquals(17, chain.yieldedBytes());
    }
}
