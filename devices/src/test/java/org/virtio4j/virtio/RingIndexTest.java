package org.virtio4j.virtio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Wrapping 16-bit ring index arithmetic (behaviour notes section 10: all index math is wrapping u16), and the
 * event-index test of Linux's {@code vring_need_event} that vm-virtio's {@code needs_notification} uses.
 */
class RingIndexTest
{
    @Test
    void shouldHaveModulusOf2Pow16()
    {
        assertEquals(65536, RingIndex.MODULUS);
    }

    @Test
    void shouldKeepLow16BitsWhenWrapping()
    {
        assertEquals(0, RingIndex.wrap(0));
        assertEquals(0xffff, RingIndex.wrap(0xffff));
        assertEquals(0, RingIndex.wrap(0x1_0000));
        assertEquals(5, RingIndex.wrap(0x7_0005));
        assertEquals(0xffff, RingIndex.wrap(-1));
        assertEquals(0x8000, RingIndex.wrap(Integer.MIN_VALUE + 0x8000));
    }

    @Test
    void shouldWrapNextFromMaxToZero()
    {
        assertEquals(1, RingIndex.next(0));
        assertEquals(0xffff, RingIndex.next(0xfffe));
        assertEquals(0, RingIndex.next(0xffff));
    }

    @Test
    void shouldWrapPreviousFromZeroToMax()
    {
        assertEquals(0, RingIndex.previous(1));
        assertEquals(0xffff, RingIndex.previous(0));
        assertEquals(0xfffe, RingIndex.previous(0xffff));
    }

    @Test
    void shouldMeasureDistanceModulo2Pow16()
    {
        assertEquals(2, RingIndex.distance(3, 1));
        assertEquals(0, RingIndex.distance(7, 7));
        assertEquals(2, RingIndex.distance(1, 0xffff));
        assertEquals(16, RingIndex.distance(15, 0xffff));
        // A driver that moved avail.idx back looks a long way ahead.
        assertEquals(65534, RingIndex.distance(1, 3));
        assertEquals(0xffff, RingIndex.distance(0xfffe, 0xffff));
    }

    @Test
    void shouldMapIndexToSlotModuloPowerOfTwoSize()
    {
        assertEquals(1, RingIndex.slot(17, 16));
        assertEquals(15, RingIndex.slot(0xffff, 16));
        assertEquals(0, RingIndex.slot(0x1_0000 & 0xffff, 16));
        assertEquals(0, RingIndex.slot(12345, 1));
        assertEquals(255, RingIndex.slot(0xffff, 256));
        assertEquals(0x7fff, RingIndex.slot(0xffff, 32768));
    }

    @Test
    void shouldNeedEventOnlyWhenEventIndexLiesInOldToNewRange()
    {
        // Moved from 5 to 8: events 5, 6 and 7 were passed.
        assertFalse(RingIndex.needsEvent(4, 8, 5));
        assertTrue(RingIndex.needsEvent(5, 8, 5));
        assertTrue(RingIndex.needsEvent(6, 8, 5));
        assertTrue(RingIndex.needsEvent(7, 8, 5));
        assertFalse(RingIndex.needsEvent(8, 8, 5));
        assertFalse(RingIndex.needsEvent(9, 8, 5));
    }

    @Test
    void shouldNeverNeedEventWhenIndexDidNotMove()
    {
        for (final int event : new int[] {0, 4, 5, 6, 0xffff})
        {
            assertFalse(RingIndex.needsEvent(event, 5, 5), "event=" + event);
        }
    }

    @Test
    void shouldNeedEventAcrossIndexWrap()
    {
        // Moved from 0xfffe to 1: events 0xfffe, 0xffff and 0 were passed.
        assertFalse(RingIndex.needsEvent(0xfffd, 1, 0xfffe));
        assertTrue(RingIndex.needsEvent(0xfffe, 1, 0xfffe));
        assertTrue(RingIndex.needsEvent(0xffff, 1, 0xfffe));
        assertTrue(RingIndex.needsEvent(0, 1, 0xfffe));
        assertFalse(RingIndex.needsEvent(1, 1, 0xfffe));
    }

    @Test
    void shouldNeedEventForEveryIndexAfterFullRoundMinusOne()
    {
        // Moved by 0xffff: every event except the new index itself was passed.
        int needed = 0;
        for (int event = 0; event < RingIndex.MODULUS; event++)
        {
            if (RingIndex.needsEvent(event, 0xffff, 0))
            {
                needed++;
            }
        }
        assertEquals(0xffff, needed);
        assertFalse(RingIndex.needsEvent(0xffff, 0xffff, 0));
    }
}
