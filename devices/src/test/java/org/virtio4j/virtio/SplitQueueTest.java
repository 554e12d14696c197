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
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device side of a split queue: vm-virtio's {@code queue.rs} tests ({@code test_queue_is_valid},
 * {@code test_add_used}, {@code test_reset_queue}, {@code test_needs_notification},
 * {@code test_enable_disable_notification}, {@code test_consume_chains_with_notif}, {@code test_invalid_avail_idx},
 * {@code test_iterator_and_avail_idx}, {@code test_descriptor_and_iterator}, {@code test_iterator},
 * {@code test_regression_iterator_division}, {@code test_setters_error_cases},
 * {@code test_regression_timeout_after_reset}) ported to {@link SplitQueue}, plus the edges of section 1 of the
 * behaviour notes (address overflow, memory errors before and after the used index moves, half-address setters).
 *
 * <p>Not ported: {@code queue_sync.rs} (QueueSync is a mutex around Queue; {@link SplitQueue} has one owner and no
 * shared wrapper, and its add_used/reset/notification behaviour is covered here), and the mock's used-ring address
 * quirk (the mock computes the avail ring's end from its element count, so its used ring overlaps the avail ring's
 * tail; {@link DriverQueue} lays the used ring after the whole avail ring, so absolute addresses differ). vm-virtio
 * sets {@code num_added} directly; it is private here, so the tests reach a count of 1 with one {@code addUsed}.
 */
class SplitQueueTest
{
    private static final int QUEUE_SIZE = 16;
    private static final int F_NEXT = DescriptorLayout.F_NEXT;
    private static final int F_WRITE = DescriptorLayout.F_WRITE;

    private final Arena arena = Arena.ofConfined();
    private GuestMemory memory;
    private DriverQueue driver;
    private SplitQueue queue;

    @BeforeEach
    void setUp()
    {
        memory = GuestMemory.of(new GuestRegion(0, arena.allocate(0x10000, 4096)));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        queue = driver.configure(new SplitQueue(QUEUE_SIZE));
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    /**
     * vm-virtio's {@code add_desc_chains(descs, 0)}: descriptor i is {0x1000 * (i + 1), 0x1000, flags[i], i + 1};
     * every descriptor whose predecessor has no NEXT (and the first) heads a chain made available in order.
     */
    private int addDescChains(final int... flags)
    {
        int chains = 0;
        for (int i = 0; i < flags.length; i++)
        {
            driver.writeDescriptor(i, 0x1000L * (i + 1), 0x1000, flags[i], i + 1);
            if (i == 0 || (flags[i - 1] & F_NEXT) == 0)
            {
                driver.stageAvailable(chains++, i);
            }
        }
        driver.publish(chains);
        return chains;
    }

    /** The device loop of vm-virtio's notification tests: returns how many rounds it took. */
    private int consumeWithNotifications(final Runnable afterDraining)
    {
        final DescriptorChain chain = new DescriptorChain();
        int rounds = 0;
        while (true)
        {
            rounds++;
            queue.disableNotification(memory);
            while (queue.iter(memory).next(chain))
            {
                int written = 0;
                while (chain.next())
                {
                    if (chain.isWriteOnly())
                    {
                        written += chain.len();
                    }
                }
                assertEquals(ChainEnd.COMPLETE, chain.end());
                queue.addUsed(memory, chain.headIndex(), written);
            }
            afterDraining.run();
            if (!queue.enableNotification(memory))
            {
                return rounds;
            }
        }
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

    // ---------------------------------------------------------------------------------------------------------------
    // Construction and configuration
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldRejectMaxSizeThatIsZeroTooLargeOrNotPowerOfTwo()
    {
        for (final int maxSize : new int[] {0, -16, 15, 32769, 65535, 65536})
        {
            final QueueException e = assertThrows(QueueException.class, () -> new SplitQueue(maxSize), "maxSize=" + maxSize);
            assertEquals(QueueError.INVALID_MAX_SIZE, e.error());
            assertTrue(e.getMessage().contains("maxSize=" + maxSize), e.getMessage());
        }
        assertEquals(1, new SplitQueue(1).maxSize());
        assertEquals(32768, new SplitQueue(SplitQueue.MAX_QUEUE_SIZE).maxSize());
    }

    @Test
    void shouldStartNotReadyAtMaxSizeWithZeroAddressesAndIndices()
    {
        final SplitQueue fresh = new SplitQueue(256);

        assertEquals(256, fresh.maxSize());
        assertEquals(256, fresh.size());
        assertFalse(fresh.ready());
        assertEquals(0, fresh.descTable());
        assertEquals(0, fresh.availRing());
        assertEquals(0, fresh.usedRing());
        assertEquals(0, fresh.nextAvail());
        assertEquals(0, fresh.nextUsed());
        assertFalse(fresh.eventIdxEnabled());
    }

    @Test
    void shouldBeValidOnlyWhenReady()
    {
        assertTrue(queue.isValid(memory));

        queue.setReady(false);

        assertFalse(queue.ready());
        assertFalse(queue.isValid(memory));
        queue.setReady(true);
        assertTrue(queue.isValid(memory));
    }

    @Test
    void shouldIgnoreSizeAboveMaxZeroOrNotPowerOfTwoAndTakeValidSize()
    {
        assertFalse(queue.setSize(QUEUE_SIZE << 1));
        assertEquals(QUEUE_SIZE, queue.size());
        assertFalse(queue.setSize(0));
        assertEquals(QUEUE_SIZE, queue.size());
        assertFalse(queue.setSize(11));
        assertEquals(QUEUE_SIZE, queue.size());

        assertTrue(queue.setSize(4));

        assertEquals(4, queue.size());
    }

    @Test
    void shouldIgnoreMisalignedDescTableAddressAndAcceptAlignedOutOfMemoryOne()
    {
        final long original = driver.descTable();

        assertFalse(queue.setDescTableAddress(0xf, null));
        assertEquals(original, queue.descTable());

        assertTrue(queue.setDescTableAddress(0xffff_fff0, null));
        assertEquals(0xffff_fff0L, queue.descTable());
        assertFalse(queue.isValid(memory));

        assertTrue(queue.setDescTableAddress(0x10, null));
        assertEquals(0x10, queue.descTable());
        assertTrue(queue.isValid(memory));
    }

    @Test
    void shouldIgnoreMisalignedAvailRingAddressAndAcceptAlignedOutOfMemoryOne()
    {
        final long original = driver.availRing();

        assertFalse(queue.setAvailRingAddress(0x1, null));
        assertEquals(original, queue.availRing());

        assertTrue(queue.setAvailRingAddress(0xffff_fffe, null));
        assertEquals(0xffff_fffeL, queue.availRing());
        assertFalse(queue.isValid(memory));

        assertTrue(queue.setAvailRingAddress(0x2, null));
        assertEquals(0x2, queue.availRing());
        assertTrue(queue.isValid(memory));
    }

    @Test
    void shouldIgnoreMisalignedUsedRingAddressAndAcceptAlignedOutOfMemoryOne()
    {
        final long original = driver.usedRing();

        assertFalse(queue.setUsedRingAddress(0x3, null));
        assertEquals(original, queue.usedRing());

        assertTrue(queue.setUsedRingAddress(0xffff_fffc, null));
        assertEquals(0xffff_fffcL, queue.usedRing());
        assertFalse(queue.isValid(memory));

        assertTrue(queue.setUsedRingAddress(0x4, null));
        assertEquals(0x4, queue.usedRing());
        assertTrue(queue.isValid(memory));
    }

    @Test
    void shouldBeInvalidWhenAnyRingRunsPastTheEndOfMemory()
    {
        // Each ring starts in memory but its last bytes do not: 16 * 16 = 256, 6 + 2 * 16 = 38, 6 + 8 * 16 = 134.
        assertTrue(queue.setDescTableAddress(0x10000 - 0xf0, null));
        assertFalse(queue.isValid(memory));
        assertTrue(queue.setDescTableAddress(0x10000 - 0x100, null));
        assertTrue(queue.isValid(memory));

        assertTrue(queue.setAvailRingAddress(0x10000 - 36, null));
        assertFalse(queue.isValid(memory));
        assertTrue(queue.setAvailRingAddress(0x10000 - 38, null));
        assertTrue(queue.isValid(memory));

        assertTrue(queue.setUsedRingAddress(0x10000 - 132, null));
        assertFalse(queue.isValid(memory));
        assertTrue(queue.setUsedRingAddress(0x10000 - 136, null));
        assertTrue(queue.isValid(memory));
    }

    @Test
    void shouldTakeMissingAddressHalfFromCurrentValue()
    {
        assertTrue(queue.setDescTableAddress(0x1230, 0x5));
        assertEquals(0x5_0000_1230L, queue.descTable());

        assertTrue(queue.setDescTableAddress(null, 0x7));
        assertEquals(0x7_0000_1230L, queue.descTable());

        assertTrue(queue.setDescTableAddress(0xffff_fff0, null));
        assertEquals(0x7_ffff_fff0L, queue.descTable());

        assertTrue(queue.setAvailRingAddress(0x2, 0xffff_ffff));
        assertEquals(0xffff_ffff_0000_0002L, queue.availRing());

        assertTrue(queue.setUsedRingAddress(null, 0x1));
        assertEquals(0x1_0000_0000L | driver.usedRing(), queue.usedRing());
        assertFalse(queue.setUsedRingAddress(0x2, null));
        assertEquals(0x1_0000_0000L | driver.usedRing(), queue.usedRing());
    }

    @Test
    void shouldRejectEachSetterErrorWithItsOwnVariantAndKeepOldValue()
    {
        final QueueException maxSize = assertThrows(QueueException.class, () -> new SplitQueue(15));
        assertEquals(QueueError.INVALID_MAX_SIZE, maxSize.error());

        final SplitQueue q = new SplitQueue(16);

        final QueueException desc = assertThrows(QueueException.class, () -> q.trySetDescTableAddress(0xf));
        assertEquals(QueueError.DESC_TABLE_MISALIGNED, desc.error());
        assertEquals("DESC_TABLE_MISALIGNED: descTable=0xf", desc.getMessage());
        assertEquals(0, q.descTable());

        final QueueException avail = assertThrows(QueueException.class, () -> q.trySetAvailRingAddress(0x1));
        assertEquals(QueueError.AVAIL_RING_MISALIGNED, avail.error());
        assertEquals("AVAIL_RING_MISALIGNED: availRing=0x1", avail.getMessage());
        assertEquals(0, q.availRing());

        final QueueException used = assertThrows(QueueException.class, () -> q.trySetUsedRingAddress(0x3));
        assertEquals(QueueError.USED_RING_MISALIGNED, used.error());
        assertEquals("USED_RING_MISALIGNED: usedRing=0x3", used.getMessage());
        assertEquals(0, q.usedRing());

        final QueueException size = assertThrows(QueueException.class, () -> q.trySetSize(15));
        assertEquals(QueueError.INVALID_SIZE, size.error());
        assertEquals("INVALID_SIZE: size=15 maxSize=16", size.getMessage());
        assertEquals(16, q.size());
        assertNull(size.memoryError());
    }

    @Test
    void shouldAcceptAlignedAddressesInTrySetters()
    {
        final SplitQueue q = new SplitQueue(16);

        q.trySetDescTableAddress(0x1_0000_0010L);
        q.trySetAvailRingAddress(0x2002);
        q.trySetUsedRingAddress(0x3004);
        q.trySetSize(8);

        assertEquals(0x1_0000_0010L, q.descTable());
        assertEquals(0x2002, q.availRing());
        assertEquals(0x3004, q.usedRing());
        assertEquals(8, q.size());
    }

    @Test
    void shouldRestoreEveryFieldOnResetExceptMaxSize()
    {
        queue.setSize(8);
        queue.setDescTableAddress(0x5000, null);
        queue.setEventIdx(true);
        queue.setNextAvail(2);
        queue.setNextUsed(4);
        queue.addUsed(memory, 0, 0);
        assertEquals(8, queue.size());
        assertTrue(queue.ready());
        assertEquals(5, queue.nextUsed());

        queue.reset();

        assertEquals(QUEUE_SIZE, queue.size());
        assertEquals(QUEUE_SIZE, queue.maxSize());
        assertFalse(queue.ready());
        assertEquals(0, queue.descTable());
        assertEquals(0, queue.availRing());
        assertEquals(0, queue.usedRing());
        assertEquals(0, queue.nextAvail());
        assertEquals(0, queue.nextUsed());
        assertFalse(queue.eventIdxEnabled());
        assertEquals(new QueueState(QUEUE_SIZE, 0, 0, false, QUEUE_SIZE, false, 0, 0, 0), queue.state());
    }

    @Test
    void shouldResetCountOfAddedElements()
    {
        // Two elements added, then a reset: with a fresh count, used_event = 0 does not ask for a notification.
        queue.addUsed(memory, 0, 0);
        queue.addUsed(memory, 1, 0);
        queue.reset();
        driver.configure(queue);
        queue.setEventIdx(true);
        queue.setNextUsed(2);
        driver.setUsedEvent(0);

        assertFalse(queue.needsNotification(memory));
    }

    @Test
    void shouldKeepLow16BitsOfRestoredIndices()
    {
        queue.setNextAvail(0x1_0005);
        queue.setNextUsed(-1);

        assertEquals(5, queue.nextAvail());
        assertEquals(0xffff, queue.nextUsed());
    }

    @Test
    void shouldSnapshotStateWithoutChangingQueue()
    {
        queue.setEventIdx(true);
        queue.setNextAvail(3);
        queue.setNextUsed(7);

        final QueueState state = queue.state();

        assertEquals(new QueueState(QUEUE_SIZE, 3, 7, true, QUEUE_SIZE, true,
            driver.descTable(), driver.availRing(), driver.usedRing()), state);
        assertTrue(queue.toString().contains("nextAvail=3"), queue.toString());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Used ring
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldRejectUsedHeadIndexAtQueueSizeWithoutWritingAnything()
    {
        assertEquals(0, queue.usedIdxAcquire(memory));

        final QueueException e = assertThrows(QueueException.class, () -> queue.addUsed(memory, QUEUE_SIZE, 0x1000));

        assertEquals(QueueError.INVALID_DESCRIPTOR_INDEX, e.error());
        assertEquals("INVALID_DESCRIPTOR_INDEX: head=16 size=16", e.getMessage());
        assertEquals(0, driver.usedIdx());
        assertEquals(0, queue.nextUsed());
        assertEquals(0, driver.usedId(0));
        assertEquals(0, driver.usedLen(0));
        assertEquals(QueueError.INVALID_DESCRIPTOR_INDEX,
            assertThrows(QueueException.class, () -> queue.addUsed(memory, -1, 0)).error());
    }

    @Test
    void shouldWriteUsedElementAndPublishUsedIdx()
    {
        queue.addUsed(memory, 1, 0x1000);

        assertEquals(1, queue.nextUsed());
        assertEquals(1, queue.usedIdxAcquire(memory));
        assertEquals(1, driver.usedIdx());
        assertEquals(1, driver.usedId(0));
        assertEquals(0x1000, driver.usedLen(0));
        // The element's raw layout: id u32 at +4 of the ring, len u32 at +8, little-endian.
        assertEquals(1, memory.getU32(driver.usedRing() + 4));
        assertEquals(0x1000, memory.getU32(driver.usedRing() + 8));
        assertEquals(0x00, memory.getU8(driver.usedRing() + 8));
        assertEquals(0x10, memory.getU8(driver.usedRing() + 9));
    }

    @Test
    void shouldWriteUsedElementsInSlotsModuloQueueSize()
    {
        queue.setNextUsed(0xffff);

        queue.addUsed(memory, 3, 0xffff_ffff);
        queue.addUsed(memory, 4, 7);

        assertEquals(1, queue.nextUsed());
        assertEquals(1, driver.usedIdx());
        // Index 0xffff is slot 15, index 0 is slot 0.
        assertEquals(3, driver.usedId(15));
        assertEquals(0xffff_ffff, driver.usedLen(15));
        assertEquals(4, driver.usedId(0));
        assertEquals(7, driver.usedLen(0));
    }

    @Test
    void shouldLeaveIndicesUnchangedWhenUsedElementIsOutsideMemory()
    {
        assertTrue(queue.setUsedRingAddress(0xffff_fffc, null));

        final QueueException e = assertThrows(QueueException.class, () -> queue.addUsed(memory, 0, 1));

        assertEquals(QueueError.GUEST_MEMORY, e.error());
        assertEquals(GuestMemoryException.Kind.INVALID_GUEST_ADDRESS, e.memoryError().kind());
        assertEquals(0x1_0000_0000L, e.memoryError().address());
        assertEquals(0, queue.nextUsed());
    }

    @Test
    void shouldAdvanceIndicesWhenOnlyUsedIdxStoreFails()
    {
        // used.idx at 0x1ffe is in the hole between two regions; the element at 0x2000 is in memory.
        final GuestMemory split = GuestMemory.of(
            new GuestRegion(0, arena.allocate(0x1000, 4096)), new GuestRegion(0x2000, arena.allocate(0x1000, 4096)));
        final SplitQueue q = new SplitQueue(4);
        q.trySetUsedRingAddress(0x1ffc);

        final QueueException e = assertThrows(QueueException.class, () -> q.addUsed(split, 2, 0x20));

        assertEquals(QueueError.GUEST_MEMORY, e.error());
        assertEquals(0x1ffe, e.memoryError().address());
        assertEquals(1, q.nextUsed());
        assertEquals(2, split.getU32(0x2000));
        assertEquals(0x20, split.getU32(0x2004));
    }

    @Test
    void shouldReportAddressOverflowOfRingFields()
    {
        final SplitQueue q = new SplitQueue(4);
        q.trySetUsedRingAddress(0xffff_ffff_ffff_fffcL);
        q.trySetAvailRingAddress(0xffff_ffff_ffff_fffeL);
        q.setReady(true);

        final QueueException used = assertThrows(QueueException.class, () -> q.addUsed(memory, 0, 0));
        final QueueException avail = assertThrows(QueueException.class, () -> q.availIdxAcquire(memory));
        final QueueException iter = assertThrows(QueueException.class, () -> q.iter(memory));

        assertEquals(QueueError.ADDRESS_OVERFLOW, used.error());
        assertEquals("ADDRESS_OVERFLOW: ring=0xfffffffffffffffc offset=4", used.getMessage());
        assertEquals(0, q.nextUsed());
        assertEquals(QueueError.ADDRESS_OVERFLOW, avail.error());
        assertEquals(QueueError.ADDRESS_OVERFLOW, iter.error());
    }

    @Test
    void shouldReportGuestMemoryErrorReadingIndicesOutsideMemory()
    {
        assertTrue(queue.setAvailRingAddress(0x20000, null));
        assertTrue(queue.setUsedRingAddress(0x20000, null));

        final QueueException avail = assertThrows(QueueException.class, () -> queue.availIdxAcquire(memory));
        final QueueException used = assertThrows(QueueException.class, () -> queue.usedIdxAcquire(memory));

        assertEquals(QueueError.GUEST_MEMORY, avail.error());
        assertEquals(0x20002, avail.memoryError().address());
        assertEquals(QueueError.GUEST_MEMORY, used.error());
        assertEquals(0x20002, used.memoryError().address());
        assertSame(used.memoryError(), used.getCause());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Notification suppression
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldAlwaysNeedNotificationWithoutEventIdx()
    {
        driver.setAvailFlags(AvailRingLayout.F_NO_INTERRUPT);
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            queue.setNextUsed(i);
            assertTrue(queue.needsNotification(memory), "nextUsed=" + i);
        }
    }

    @Test
    void shouldNotifyOnlyWhenUsedIdxPassesUsedEventAcrossFullWrap()
    {
        driver.setUsedEvent(4);
        queue.setEventIdx(true);
        final int wrap = RingIndex.MODULUS;

        for (int i = 0; i < wrap + 12; i++)
        {
            // One element added since the last call: next_used moves from i - 1 to i.
            queue.setNextUsed(i - 1);
            queue.addUsed(memory, 0, 0);
            assertEquals(RingIndex.wrap(i), queue.nextUsed());
            final boolean expected = i == 5 || i == 5 + wrap;
            assertEquals(expected, queue.needsNotification(memory), "i=" + i);
        }
    }

    @Test
    void shouldFollowVringNeedEventForUsedEventAndNextUsedCombinations()
    {
        queue.setEventIdx(true);
        queue.setNextUsed(11);

        // used_event 8 is behind both next_used and its value at the last notification (no element added).
        driver.setUsedEvent(8);
        assertFalse(queue.needsNotification(memory));

        driver.setUsedEvent(15);
        queue.setNextUsed(10);
        queue.addUsed(memory, 0, 0);
        assertFalse(queue.needsNotification(memory), "10 -> 11 does not pass 15");

        queue.setNextUsed(14);
        queue.addUsed(memory, 0, 0);
        assertFalse(queue.needsNotification(memory), "14 -> 15 does not pass 15");

        queue.setNextUsed(15);
        queue.addUsed(memory, 0, 0);
        assertTrue(queue.needsNotification(memory), "15 -> 16 passes 15");
        assertFalse(queue.needsNotification(memory), "a second call without a new element");

        driver.setUsedEvent(0xffff - 3);
        queue.setNextUsed(0xffff - 3);
        queue.addUsed(memory, 0, 0);
        assertTrue(queue.needsNotification(memory), "0xfffc -> 0xfffd passes 0xfffc");
    }

    @Test
    void shouldCountEveryElementAddedSinceLastNotification()
    {
        queue.setEventIdx(true);
        driver.setUsedEvent(1);

        queue.addUsed(memory, 0, 0);
        queue.addUsed(memory, 1, 0);
        queue.addUsed(memory, 2, 0);

        // 0 -> 3 passes used_event 1.
        assertTrue(queue.needsNotification(memory));
        assertFalse(queue.needsNotification(memory));
    }

    @Test
    void shouldNotResetCountOfAddedElementsWithoutEventIdx()
    {
        queue.addUsed(memory, 0, 0);
        queue.addUsed(memory, 1, 0);
        assertTrue(queue.needsNotification(memory));

        queue.setEventIdx(true);
        driver.setUsedEvent(0);

        // Had the count been reset, old would be 2 and 0 would not lie in [2, 2).
        assertTrue(queue.needsNotification(memory));
    }

    @Test
    void shouldReportMemoryErrorReadingUsedEvent()
    {
        queue.setEventIdx(true);
        assertTrue(queue.setAvailRingAddress(0xffff_fffe, null));

        final QueueException e = assertThrows(QueueException.class, () -> queue.needsNotification(memory));

        assertEquals(QueueError.GUEST_MEMORY, e.error());
        assertEquals(0xffff_fffeL + 4 + 2 * QUEUE_SIZE, e.memoryError().address());
    }

    @Test
    void shouldKeepCountOfAddedElementsWhenUsedEventCannotBeRead()
    {
        queue.setEventIdx(true);
        queue.addUsed(memory, 0, 0);
        queue.addUsed(memory, 1, 0);
        final long availRing = queue.availRing();
        assertTrue(queue.setAvailRingAddress(0xffff_fffe, null));
        assertEquals(QueueError.GUEST_MEMORY, assertThrows(QueueException.class, () -> queue.needsNotification(memory)).error());

        queue.trySetAvailRingAddress(availRing);
        driver.setUsedEvent(0);

        // 0 lies in [0, 2) only if the two elements are still counted.
        assertTrue(queue.needsNotification(memory));
    }

    @Test
    void shouldToggleUsedFlagsWithoutEventIdx()
    {
        assertFalse(queue.eventIdxEnabled());

        assertFalse(queue.enableNotification(memory));
        assertEquals(0, driver.usedFlags());

        queue.disableNotification(memory);
        assertEquals(UsedRingLayout.F_NO_NOTIFY, driver.usedFlags());
        assertEquals(1, memory.getU16(driver.usedRing()));

        queue.enableNotification(memory);
        assertEquals(0, driver.usedFlags());
    }

    @Test
    void shouldReportMoreWorkWhenAvailIdxDiffersFromNextAvailWithEventIdx()
    {
        queue.setEventIdx(true);
        driver.setAvailIdx(2);

        assertTrue(queue.enableNotification(memory));
        queue.setNextAvail(2);
        assertFalse(queue.enableNotification(memory));

        driver.setAvailIdx(8);

        assertTrue(queue.enableNotification(memory));
        queue.setNextAvail(8);
        assertFalse(queue.enableNotification(memory));
    }

    @Test
    void shouldWriteNextAvailNotAvailIdxAsAvailEvent()
    {
        queue.setEventIdx(true);
        driver.setAvailIdx(9);
        queue.setNextAvail(3);

        assertTrue(queue.enableNotification(memory));

        assertEquals(3, driver.availEvent());
        assertEquals(0, driver.usedFlags(), "used.flags untouched with EVENT_IDX");
    }

    @Test
    void shouldDoNothingOnDisableNotificationWithEventIdx()
    {
        queue.setEventIdx(true);
        queue.setNextAvail(5);
        queue.enableNotification(memory);
        assertEquals(5, driver.availEvent());

        queue.disableNotification(memory);

        assertEquals(0, driver.usedFlags());
        assertEquals(5, driver.availEvent());
    }

    @Test
    void shouldReportMemoryErrorTogglingNotificationsOutsideMemory()
    {
        assertTrue(queue.setUsedRingAddress(0x20000, null));

        assertEquals(QueueError.GUEST_MEMORY,
            assertThrows(QueueException.class, () -> queue.disableNotification(memory)).error());
        assertEquals(QueueError.GUEST_MEMORY,
            assertThrows(QueueException.class, () -> queue.enableNotification(memory)).error());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Taking chains
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void shouldConsumeChainsInOneRoundUnlessDriverAddsMoreMeanwhile()
    {
        assertTrue(queue.isValid(memory));
        // The chains are (0, 1), (2, 3, 4), (5, 6), (7, 8), (9, 10, 11, 12).
        final int[] flags = new int[13];
        for (int i = 0; i < flags.length; i++)
        {
            flags[i] = i == 1 || i == 4 || i == 6 || i == 8 || i == 12 ? 0 : F_NEXT;
        }
        assertEquals(5, addDescChains(flags));
        driver.setAvailIdx(2);
        assertEquals(0, queue.nextAvail());

        assertEquals(1, consumeWithNotifications(() -> { }));
        assertEquals(2, queue.nextAvail());
        assertEquals(2, queue.nextUsed());

        driver.setAvailIdx(3);
        assertEquals(2, consumeWithNotifications(() -> driver.setAvailIdx(4)));
        assertEquals(4, queue.nextAvail());
        assertEquals(4, queue.nextUsed());

        // An idx beyond the entries written: the zeroed slots 5 and 6 are taken as head 0.
        driver.setAvailIdx(7);
        consumeWithNotifications(() -> { });
        assertEquals(7, queue.nextAvail());
        assertEquals(7, queue.nextUsed());
        final int[] heads = {0, 2, 5, 7, 9, 0, 0};
        for (int i = 0; i < heads.length; i++)
        {
            assertEquals(heads[i], driver.usedId(i), "used[" + i + "].id");
            assertEquals(0, driver.usedLen(i), "used[" + i + "].len");
        }
    }

    @Test
    void shouldRefuseToIterateWhenDriverDecrementsAvailIdx()
    {
        assertEquals(3, addDescChains(F_NEXT, 0, F_NEXT, F_NEXT, 0, F_NEXT, 0));
        assertEquals(0, queue.nextAvail());
        assertEquals(0, queue.nextUsed());

        consumeWithNotifications(() -> { });

        assertEquals(3, queue.nextAvail());
        assertEquals(3, queue.availIdxAcquire(memory));
        assertEquals(3, queue.nextUsed());
        assertEquals(3, queue.usedIdxAcquire(memory));
        assertTrue(queue.ready());

        driver.setAvailIdx(1);

        final QueueException e = assertThrows(QueueException.class, () -> queue.iter(memory));
        assertEquals(QueueError.TOO_MANY_AVAILABLE, e.error());
        assertEquals("TOO_MANY_AVAILABLE: availIdx=1 nextAvail=3 size=16", e.getMessage());
        assertFalse(queue.popDescriptorChain(memory, new DescriptorChain()));
        assertEquals(3, queue.nextAvail());
    }

    @Test
    void shouldAcceptUpToQueueSizeAvailableChainsAcrossIndexWrap()
    {
        final SplitQueue small = new SplitQueue(2);
        final DriverQueue smallDriver = new DriverQueue(memory, 0x8000, 2);
        smallDriver.configure(small);
        smallDriver.writeDescriptor(0, 0x1000, 0x1000, 0, 1);
        smallDriver.writeDescriptor(1, 0x2000, 0x1000, 0, 2);
        small.setNextAvail(0xffff);

        smallDriver.setAvailIdx(0xffff + 2);
        assertEquals(2, small.iter(memory).remaining());

        smallDriver.setAvailIdx(0xffff + 1);
        assertEquals(1, small.iter(memory).remaining());

        smallDriver.setAvailIdx(0xffff + 3);
        final QueueException e = assertThrows(QueueException.class, () -> small.iter(memory));
        assertEquals(QueueError.TOO_MANY_AVAILABLE, e.error());
        assertEquals("TOO_MANY_AVAILABLE: availIdx=2 nextAvail=65535 size=2", e.getMessage());
    }

    @Test
    void shouldFilterReadableAndWritableDescriptorsOfEachChain()
    {
        assertEquals(3, addDescChains(F_NEXT, 0, F_NEXT | F_WRITE, F_NEXT, F_WRITE, F_NEXT | F_WRITE, 0));
        final AvailIter it = queue.iter(memory);
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(it.next(chain));
        assertEquals(0, chain.headIndex());
        assertTrue(chain.next());
        assertTrue(chain.next());
        assertFalse(chain.next());
        assertFalse(chain.next());
        assertEquals(ChainEnd.COMPLETE, chain.end());

        assertTrue(it.next(chain));
        assertEquals(2, chain.headIndex());
        assertTrue(chain.nextWritable());
        assertEquals(0x3000, chain.addr());
        assertTrue(chain.nextWritable());
        assertEquals(0x5000, chain.addr());
        assertFalse(chain.nextWritable());
        assertFalse(chain.nextWritable());

        assertTrue(it.next(chain));
        assertEquals(5, chain.headIndex());
        assertTrue(chain.nextReadable());
        assertEquals(0x7000, chain.addr());
        assertFalse(chain.nextReadable());
        assertFalse(chain.nextReadable());
        assertEquals(ChainEnd.COMPLETE, chain.end());

        assertFalse(it.next(chain));
    }

    @Test
    void shouldRefuseToIterateWhenNotReady()
    {
        queue.setReady(false);

        final QueueException e = assertThrows(QueueException.class, () -> queue.iter(memory));

        assertEquals(QueueError.NOT_READY, e.error());
        assertEquals("NOT_READY: ready=false availRing=" + "0x" + Long.toHexString(driver.availRing()), e.getMessage());
    }

    @Test
    void shouldYieldChainsInOrderAndRetakeLastAfterGoingBack()
    {
        // The chains are (0, 1) and (2, 3, 4).
        addDescChains(F_NEXT, 0, F_NEXT, F_NEXT, 0);
        final AvailIter it = queue.iter(memory);
        assertEquals(2, it.lastIndex());
        assertEquals(2, it.remaining());
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(it.next(chain));
        assertEquals(0, chain.headIndex());
        assertEquals(2, count(chain));
        assertEquals(0, chain.headIndex());

        assertTrue(it.next(chain));
        assertEquals(2, chain.headIndex());
        assertEquals(3, count(chain));
        assertEquals(2, chain.headIndex());

        assertFalse(it.next(chain));
        assertEquals(0, it.remaining());
        it.goToPreviousPosition();
        assertEquals(1, queue.nextAvail());

        final DescriptorChain again = new DescriptorChain();
        assertTrue(queue.iter(memory).next(again));
        assertEquals(2, again.headIndex());
        assertEquals(3, count(again));
        assertEquals(ChainEnd.COMPLETE, again.end());
    }

    @Test
    void shouldStopBrokenChainBeforeItExceeds2Pow32Bytes()
    {
        driver.writeDescriptor(0, 0x1000, 0xffff_ffff, F_NEXT, 1);
        driver.writeDescriptor(1, 0x1000, 0x1234_5678, 0, 2);
        driver.makeAvailable(0);
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(queue.iter(memory).next(chain));

        assertTrue(chain.next());
        assertEquals(0xffff_ffffL, chain.lenUnsigned());
        assertFalse(chain.next());
        assertEquals(ChainEnd.LENGTH_OVERFLOW, chain.end());
        assertTrue(chain.end().isMalformed());
        assertEquals(0xffff_ffffL, chain.yieldedBytes());
    }

    @Test
    void shouldStopSelfReferentialDescriptorBeforeItExceeds2Pow32Bytes()
    {
        driver.writeDescriptor(0, 0x1000, 0xffff_ffff, F_NEXT, 0);
        driver.makeAvailable(0);
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(queue.iter(memory).next(chain));

        assertEquals(1, count(chain));
        assertEquals(ChainEnd.LENGTH_OVERFLOW, chain.end());
        assertEquals(0xffff_ffffL, chain.yieldedBytes());
    }

    @Test
    void shouldNotPopFromFuzzerQueueWithSizeZero()
    {
        // vm-virtio's fuzzer found a division by zero with size 0; here no queue can have size 0: the fuzzer's state
        // is refused on restore, and the fuzzer's descriptor on a size-1 queue gives a chain that ends at once.
        final QueueState fuzzed = new QueueState(38, 0, 0, false, 0, false, 12837708984796196L, 0,
            Long.parseUnsignedLong("9943947977301164032"));
        assertEquals(QueueError.INVALID_MAX_SIZE, assertThrows(QueueException.class, () -> SplitQueue.restore(fuzzed)).error());
        final QueueState sizeZero = new QueueState(16, 0, 0, false, 0, true, 0, 0x100, 0x200);
        assertEquals(QueueError.INVALID_SIZE, assertThrows(QueueException.class, () -> SplitQueue.restore(sizeZero)).error());

        final DriverQueue one = new DriverQueue(memory, 0x8000, 1);
        final SplitQueue q = one.configure(new SplitQueue(1));
        one.writeDescriptor(0, Long.parseUnsignedLong("14178673876262995140"), (int)3301229764L, 50372, 50372);
        one.makeAvailable(0);
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(q.popDescriptorChain(memory, chain));

        assertFalse(chain.next());
        // Flags 0xc4c4 carry INDIRECT; a table length of 0xc4c4c4c4 is not a multiple of 16.
        assertEquals(ChainEnd.BAD_INDIRECT_TABLE, chain.end());
        assertFalse(q.popDescriptorChain(memory, chain));
    }

    @Test
    void shouldConsumeNothingAfterResetEvenWhenReadyOrGivenAvailRing()
    {
        final GuestMemory big = GuestMemory.of(new GuestRegion(0, arena.allocate(0x10000, 4096)));
        final DriverQueue fuzzDriver = new DriverQueue(big, 0, 1024);
        // The fuzzer's descriptors; chains start at 0, 4, 5 and 6.
        fuzzDriver.writeDescriptor(0, 21508325467L, 0, 1, 4);
        fuzzDriver.writeDescriptor(1, 2097152L, 4096, 3, 0);
        fuzzDriver.writeDescriptor(2, 0xff00_0000_0000_0000L, 0xffff_ffff, 65535, 29);
        fuzzDriver.writeDescriptor(3, 76842670169653248L, 1114115, 0, 0);
        fuzzDriver.writeDescriptor(4, 16, 983040, 126, 3);
        fuzzDriver.writeDescriptor(5, 897648164864L, 0, 0, 0);
        fuzzDriver.writeDescriptor(6, 111669149722L, 0, 0, 0);
        fuzzDriver.stageAvailable(0, 0);
        fuzzDriver.stageAvailable(1, 4);
        fuzzDriver.stageAvailable(2, 5);
        fuzzDriver.stageAvailable(3, 6);
        fuzzDriver.publish(4);
        final SplitQueue q = fuzzDriver.configure(new SplitQueue(1024));
        assertEquals(4, q.iter(big).remaining(), "the chains are there before the reset");

        q.reset();
        q.setReady(true);
        final DescriptorChain chain = new DescriptorChain();
        int counter = 0;
        while (q.popDescriptorChain(big, chain))
        {
            counter += count(chain);
        }
        assertEquals(0, counter);
        assertEquals(QueueError.NOT_READY, assertThrows(QueueException.class, () -> q.iter(big)).error());

        q.reset();
        assertTrue(q.setAvailRingAddress(0x1000, null));
        assertEquals(0x1000, q.availRing());
        while (q.popDescriptorChain(big, chain))
        {
            counter += count(chain);
        }
        assertEquals(0, counter);
        assertEquals(QueueError.NOT_READY, assertThrows(QueueException.class, () -> q.iter(big)).error());
        assertEquals(0, q.nextAvail());
    }

    @Test
    void shouldNotMovePositionWhenAvailEntryCannotBeRead()
    {
        // avail.flags and avail.idx are the last 4 bytes of memory; ring[0] is past its end.
        final SplitQueue q = new SplitQueue(4);
        q.trySetDescTableAddress(0);
        q.trySetAvailRingAddress(0x10000 - 4);
        q.trySetUsedRingAddress(0x1000);
        q.setReady(true);
        memory.putU16(0x10000 - 2, 1);
        final AvailIter it = q.iter(memory);

        assertFalse(it.next(new DescriptorChain()));

        assertEquals(0, q.nextAvail());
        assertEquals(1, it.remaining());
    }

    @Test
    void shouldGiveEmptyChainForHeadIndexOutsideTable()
    {
        driver.makeAvailable(QUEUE_SIZE + 4);
        final DescriptorChain chain = new DescriptorChain();

        assertTrue(queue.popDescriptorChain(memory, chain));

        assertEquals(20, chain.headIndex());
        assertFalse(chain.next());
        assertEquals(ChainEnd.INDEX_OUT_OF_RANGE, chain.end());
        assertEquals(1, queue.nextAvail());
    }

    @Test
    void shouldStopIterationAtAvailIdxReadWhenItStarted()
    {
        addDescChains(0, 0);
        final AvailIter it = queue.iter(memory);
        final DescriptorChain chain = new DescriptorChain();
        driver.writeDescriptor(2, 0x3000, 0x10, 0, 0);
        driver.makeAvailable(2);

        assertTrue(it.next(chain));
        assertTrue(it.next(chain));
        assertFalse(it.next(chain), "avail.idx was 2 when the iteration started");

        assertTrue(queue.iter(memory).next(chain));
        assertEquals(2, chain.headIndex());
    }

    @Test
    void shouldWrapNextAvailWhenGoingBackFromZero()
    {
        queue.goToPreviousPosition();

        assertEquals(0xffff, queue.nextAvail());
    }

    @Test
    void shouldReturnChainsToDriverThroughUsedRing()
    {
        final int head = driver.addChain(DriverBuffer.readable(0x2000, 16), DriverBuffer.writable(0x3000, 32));
        final DescriptorChain chain = new DescriptorChain();
        assertTrue(queue.popDescriptorChain(memory, chain));
        assertEquals(head, chain.headIndex());

        queue.addUsed(memory, chain.headIndex(), 32);

        assertTrue(driver.pollUsed());
        assertEquals(head, driver.lastUsedId());
        assertEquals(32, driver.lastUsedLen());
        assertEquals(QUEUE_SIZE, driver.freeDescriptors());
    }
}
