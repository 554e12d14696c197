package org.virtio4j.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inflight tracking of a split queue across a back-end restart: what one back-end records, the next recovers,
 * with out-of-order completion, a crash between publishing and clearing, and hostile region contents.
 */
class InflightQueueTest
{
    private static final int SIZE = 16;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment region = arena.allocate(InflightLayout.queueBytes(SIZE), 64);
    private MemoryBacking ram;

    @AfterEach
    void tearDown() throws Exception
    {
        arena.close();
        if (ram != null)
        {
            ram.close();
        }
    }

    private GuestMemory memory() throws Exception
    {
        ram = MemoryBacking.memfd("inflight", 1 << 20);
        return GuestMemory.of(ram.region(0));
    }

    /** A back-end: a fresh queue over the driver's rings, tracking into the shared region after recovering it. */
    private static SplitQueue backEnd(final DriverQueue driver, final MemorySegment region, final GuestMemory memory, final int base)
    {
        final SplitQueue queue = driver.configure(new SplitQueue(SIZE));
        // As the vhost-user back-end starts a ring: the used index continues where guest memory says.
        queue.setNextUsed(queue.usedIdxAcquire(memory));
        final InflightQueue inflight = new InflightQueue(region, SIZE);
        final int resubmit = inflight.recover(queue.usedIdxAcquire(memory));
        queue.setNextAvail(resubmit < 0 ? base : queue.nextUsed() + resubmit);
        queue.trackInflight(inflight);
        return queue;
    }

    @Test
    void shouldResubmitExactlyTheChainsLeftInFlightOldestFirstAfterARestart() throws Exception
    {
        final GuestMemory memory = memory();
        final DriverQueue driver = new DriverQueue(memory, 0, SIZE);
        final int[] heads = new int[5];
        for (int i = 0; i < 5; i++)
        {
            heads[i] = driver.addChain(DriverBuffer.writable(0x8000 + i * 64L, 64));
        }
        final SplitQueue first = backEnd(driver, region, memory, 0);
        final AvailIter iter = first.iter(memory);
        final DescriptorChain chain = new DescriptorChain();
        final List<Integer> taken = new ArrayList<>();
        while (iter.next(chain))
        {
            taken.add(chain.headIndex());
        }
        assertEquals(5, taken.size());
        // Out of order: the second and the fourth complete, then the back-end dies.
        first.addUsed(memory, heads[1], 1);
        first.addUsed(memory, heads[3], 1);
        assertEquals(3, first.inflight().inFlight());

        // QEMU restarts the ring at used.idx (2); the new back-end skips what is in flight and resubmits it.
        final SplitQueue second = backEnd(driver, region, memory, driver.usedIdx());
        assertEquals(5, second.nextAvail(), "the avail entries already taken are not taken again");
        final AvailIter again = second.iter(memory);
        final List<Integer> resubmitted = new ArrayList<>();
        while (again.next(chain))
        {
            resubmitted.add(chain.headIndex());
        }
        assertEquals(List.of(heads[0], heads[2], heads[4]), resubmitted, "exactly the chains in flight, oldest first");
        for (final int head : resubmitted)
        {
            second.addUsed(memory, head, 1);
        }
        assertEquals(0, second.inflight().inFlight());
        final List<Integer> used = new ArrayList<>();
        while (driver.pollUsed(true))
        {
            used.add(driver.lastUsedId());
        }
        assertEquals(5, used.size(), "every chain returned once");
        assertEquals(5, used.stream().distinct().count(), "none twice");
    }

    @Test
    void shouldNotResubmitAChainWhoseUsedElementWasPublishedBeforeTheCrash() throws Exception
    {
        final GuestMemory memory = memory();
        final DriverQueue driver = new DriverQueue(memory, 0, SIZE);
        final int a = driver.addChain(DriverBuffer.writable(0x8000, 64));
        final int b = driver.addChain(DriverBuffer.writable(0x8040, 64));
        final SplitQueue first = backEnd(driver, region, memory, 0);
        final AvailIter iter = first.iter(memory);
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(iter.next(chain));
        assertTrue(iter.next(chain));
        // The crash comes after used.idx was published for b but before b was cleared: undo the clearing.
        first.addUsed(memory, b, 1);
        region.set(JAVA_BYTE, InflightLayout.HEADER_SIZE + (long)InflightLayout.DESC_SIZE * b, (byte)1);
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.USED_IDX, (short)0);

        final SplitQueue second = backEnd(driver, region, memory, driver.usedIdx());
        final AvailIter again = second.iter(memory);
        assertTrue(again.next(chain));
        assertEquals(a, chain.headIndex(), "only the chain that never completed");
        assertFalse(again.next(chain), "b is not completed twice");
    }

    @Test
    void shouldGoOnAfterTheLastCompletionWhenTheFrontEndsBaseLagsBehind() throws Exception
    {
        final GuestMemory memory = memory();
        final DriverQueue driver = new DriverQueue(memory, 0, SIZE);
        for (int i = 0; i < 4; i++)
        {
            driver.addChain(DriverBuffer.writable(0x8000 + i * 64L, 64));
        }
        final SplitQueue first = backEnd(driver, region, memory, 0);
        final AvailIter iter = first.iter(memory);
        final DescriptorChain chain = new DescriptorChain();
        while (iter.next(chain))
        {
            first.addUsed(memory, chain.headIndex(), 1);
        }
        // The front-end saw used.idx 1 when the connection closed; this back-end went on to complete all four.
        final SplitQueue second = backEnd(driver, region, memory, 1);
        assertEquals(4, second.nextAvail(), "nothing completed is taken again");
        assertFalse(second.iter(memory).next(chain));
    }

    @Test
    void shouldStartAFreshRegionWithNothingToResubmit()
    {
        final InflightQueue inflight = new InflightQueue(region, SIZE);
        assertEquals(-1, inflight.recover(7), "fresh: the ring starts where the front-end says");
        assertEquals(InflightLayout.VERSION, region.get(JAVA_SHORT_UNALIGNED, InflightLayout.VERSION_OFFSET));
        assertEquals(SIZE, region.get(JAVA_SHORT_UNALIGNED, InflightLayout.DESC_NUM));
        assertFalse(inflight.hasResubmit());
    }

    @Test
    void shouldBoundWhatAHostileRegionCanAskFor()
    {
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.VERSION_OFFSET, (short)1);
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.LAST_BATCH_HEAD, (short)0xffff);
        for (int head = 0; head < SIZE; head++)
        {
            final long at = InflightLayout.HEADER_SIZE + (long)InflightLayout.DESC_SIZE * head;
            region.set(JAVA_BYTE, at, (byte)0x5a);
            region.set(JAVA_LONG_UNALIGNED, at + InflightLayout.DESC_COUNTER, -head);
        }
        final InflightQueue inflight = new InflightQueue(region, SIZE);
        assertEquals(SIZE, inflight.recover(3), "never more than the queue holds");
        for (int i = 0; i < SIZE; i++)
        {
            final int head = inflight.nextResubmit();
            assertTrue(head >= 0 && head < SIZE, "every head inside the queue");
        }
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.VERSION_OFFSET, (short)9);
        assertThrows(QueueException.class, () -> new InflightQueue(region, SIZE).recover(0), "an unknown layout is refused");
        assertThrows(IllegalArgumentException.class, () -> new InflightQueue(region.asSlice(0, 64), SIZE));
    }

    /** Where in a request's life the back-end dies. */
    enum Crash
    {
        /** The chain is available, not taken. */
        BEFORE_TAKEN,
        /** Taken and marked in flight, its I/O under way. */
        TAKEN,
        /** Made the region's last batch, its used element not written. */
        RETURNING,
        /** Its used element written, used.idx not published. */
        ELEMENT_WRITTEN,
        /** used.idx published, the chain still marked in flight. */
        IDX_PUBLISHED,
        /** Cleared in the region, the region's used index not updated. */
        CLEARED,
        /** Fully returned. */
        DONE
    }

    /**
     * A back-end dies at every step of one request's life, with another request in flight beside it; the next
     * back-end recovers the region and serves what is available. Every chain comes back exactly once.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Crash.class)
    void shouldReturnEveryChainExactlyOnceWhereverTheBackEndDies(final Crash crash) throws Exception
    {
        final GuestMemory memory = memory();
        final DriverQueue driver = new DriverQueue(memory, 0, SIZE);
        final int other = driver.addChain(DriverBuffer.writable(0x8000, 64));
        final int victim = driver.addChain(DriverBuffer.writable(0x8040, 64));
        final SplitQueue first = backEnd(driver, region, memory, 0);
        final AvailIter iter = first.iter(memory);
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(iter.next(chain));
        assertEquals(other, chain.headIndex());
        if (crash != Crash.BEFORE_TAKEN)
        {
            assertTrue(iter.next(chain));
            assertEquals(victim, chain.headIndex());
        }
        final long usedRing = driver.usedRing();
        switch (crash)
        {
            case RETURNING -> first.inflight().returning(victim);
            case ELEMENT_WRITTEN ->
            {
                first.inflight().returning(victim);
                memory.putU64(usedRing + 4, 1L << 32 | victim);
            }
            case IDX_PUBLISHED ->
            {
                first.inflight().returning(victim);
                memory.putU64(usedRing + 4, 1L << 32 | victim);
                memory.putU16(usedRing + 2, 1);
            }
            case CLEARED ->
            {
                first.inflight().returning(victim);
                memory.putU64(usedRing + 4, 1L << 32 | victim);
                memory.putU16(usedRing + 2, 1);
                region.set(JAVA_BYTE, InflightLayout.HEADER_SIZE + (long)InflightLayout.DESC_SIZE * victim + InflightLayout.DESC_INFLIGHT, (byte)0);
            }
            case DONE -> first.addUsed(memory, victim, 1);
            default ->
            {
            }
        }

        final SplitQueue second = backEnd(driver, region, memory, driver.usedIdx());
        final AvailIter again = second.iter(memory);
        while (again.next(chain))
        {
            second.addUsed(memory, chain.headIndex(), 1);
        }
        final List<Integer> used = new ArrayList<>();
        while (driver.pollUsed(true))
        {
            used.add(driver.lastUsedId());
        }
        assertEquals(2, used.size(), () -> "both chains returned: " + used);
        assertTrue(used.contains(other) && used.contains(victim), () -> "each once: " + used);
        assertEquals(0, second.inflight().inFlight(), "nothing left in flight");
    }
}
