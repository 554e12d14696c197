package org.virtio4j.virtio;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Inflight tracking of one split queue in its region of the shared inflight memory ({@link InflightLayout}). The
 * queue calls {@link #taken} for every head it takes from the avail ring, before any work for it starts, and
 * {@link #returning}/{@link #returned} around publishing its used element; the order makes recovery exact: a crash
 * at any point leaves every chain either returned or marked in flight, never both, never neither.
 *
 * <p>After a restart {@link #recover} reads what the previous back-end left (untrusted: checked and bounded),
 * and the queue resubmits the chains still in flight, oldest first ({@link #nextResubmit}), before any new avail
 * entry.
 *
 * <p>Owned by the queue's owner thread. Allocates nothing per request.
 */
public final class InflightQueue
{
    private final MemorySegment region;
    private final int size;
    private long counter;
    private int[] resubmit = new int[0];
    private int resubmitNext;
    private int resubmitCount;

    /**
     * @param region    this queue's region: at least {@link InflightLayout#queueBytes}(size) bytes of shared memory.
     * @param queueSize the queue's size.
     */
    public InflightQueue(final MemorySegment region, final int queueSize)
    {
        if (region.byteSize() < InflightLayout.queueBytes(queueSize))
        {
            throw new IllegalArgumentException("inflight region of " + region.byteSize() + " bytes for a queue of " + queueSize);
        }
        this.region = region;
        this.size = queueSize;
    }

    private static long desc(final int head)
    {
        return InflightLayout.HEADER_SIZE + (long)InflightLayout.DESC_SIZE * head;
    }

    /**
     * Reads what a previous back-end left and prepares the resubmission of every chain it had in flight. A fresh
     * region (version 0) is initialised and yields nothing.
     *
     * @param guestUsedIdx used.idx as guest memory holds it now.
     * @return -1 for a fresh region (the ring starts where the front-end says); otherwise the chains to
     *         resubmit: every avail entry up to used.idx plus that many was taken by a previous back-end, so the
     *         ring goes on from there (the front-end's base may lag behind the completions that back-end made
     *         while it was going away).
     * @throws QueueException if the region holds a layout this back-end does not know.
     */
    public int recover(final int guestUsedIdx)
    {
        final int version = Short.toUnsignedInt(region.get(JAVA_SHORT_UNALIGNED, InflightLayout.VERSION_OFFSET));
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.DESC_NUM, (short)size);
        resubmitNext = 0;
        resubmitCount = 0;
        if (version == 0)
        {
            region.set(JAVA_LONG_UNALIGNED, InflightLayout.FEATURES, 0L);
            region.set(JAVA_SHORT_UNALIGNED, InflightLayout.USED_IDX, (short)guestUsedIdx);
            region.set(JAVA_SHORT_UNALIGNED, InflightLayout.VERSION_OFFSET, (short)InflightLayout.VERSION);
            counter = 0;
            return -1;
        }
        if (version != InflightLayout.VERSION)
        {
            throw new QueueException(QueueError.INVALID_SIZE, "inflight region version " + version + ", this back-end knows " + InflightLayout.VERSION);
        }
        final int shadowUsed = Short.toUnsignedInt(region.get(JAVA_SHORT_UNALIGNED, InflightLayout.USED_IDX));
        if (shadowUsed != guestUsedIdx)
        {
            // The last batch (one element here) reached the used ring but was not cleared before the crash.
            final int last = Short.toUnsignedInt(region.get(JAVA_SHORT_UNALIGNED, InflightLayout.LAST_BATCH_HEAD));
            if (last < size)
            {
                region.set(JAVA_BYTE, desc(last) + InflightLayout.DESC_INFLIGHT, (byte)0);
            }
            region.set(JAVA_SHORT_UNALIGNED, InflightLayout.USED_IDX, (short)guestUsedIdx);
        }
        final long[] pending = new long[size];
        int count = 0;
        long highest = 0;
        for (int head = 0; head < size; head++)
        {
            if (region.get(JAVA_BYTE, desc(head) + InflightLayout.DESC_INFLIGHT) != 0)
            {
                final long order = region.get(JAVA_LONG_UNALIGNED, desc(head) + InflightLayout.DESC_COUNTER);
                highest = Math.max(highest, order);
                // Sort key: the fetch order (bounded to 47 bits, untrusted), then the head.
                pending[count++] = (order & 0x7fff_ffff_ffffL) << 16 | head;
            }
        }
        Arrays.sort(pending, 0, count);
        resubmit = new int[count];
        for (int i = 0; i < count; i++)
        {
            resubmit[i] = (int)(pending[i] & 0xffff);
        }
        resubmitCount = count;
        counter = highest;
        return count;
    }

    /** @return true while chains of a previous back-end wait to be resubmitted. */
    public boolean hasResubmit()
    {
        return resubmitNext < resubmitCount;
    }

    /** @return the oldest chain still to resubmit (it stays marked in flight). */
    public int nextResubmit()
    {
        return resubmit[resubmitNext++];
    }

    /** Gives the last resubmitted chain back (the device could not take it now). */
    public void unresubmit()
    {
        resubmitNext--;
    }

    /**
     * Marks a head in flight: its fetch order first, then the flag (a recovering back-end that sees the flag sees
     * the order).
     *
     * @param head a head index below the queue size.
     */
    public void taken(final int head)
    {
        final long at = desc(head);
        region.set(JAVA_LONG_UNALIGNED, at + InflightLayout.DESC_COUNTER, ++counter);
        VarHandle.releaseFence();
        region.set(JAVA_BYTE, at + InflightLayout.DESC_INFLIGHT, (byte)1);
    }

    /**
     * Before the used element of {@code head} is written: it becomes the last batch.
     *
     * @param head the head being returned.
     */
    public void returning(final int head)
    {
        final int last = region.get(JAVA_SHORT_UNALIGNED, InflightLayout.LAST_BATCH_HEAD);
        region.set(JAVA_SHORT_UNALIGNED, desc(head) + InflightLayout.DESC_NEXT, (short)last);
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.LAST_BATCH_HEAD, (short)head);
        // Only store-store order matters: nobody reads the region while this back-end lives, and a dead process's
        // stores become visible in the order they were released.
        VarHandle.releaseFence();
    }

    /**
     * After used.idx was published: the head is no longer in flight, then the shadow used index follows.
     *
     * @param head    the head returned.
     * @param usedIdx the used index just published.
     */
    public void returned(final int head, final int usedIdx)
    {
        VarHandle.releaseFence();
        region.set(JAVA_BYTE, desc(head) + InflightLayout.DESC_INFLIGHT, (byte)0);
        VarHandle.releaseFence();
        region.set(JAVA_SHORT_UNALIGNED, InflightLayout.USED_IDX, (short)usedIdx);
    }

    /** @return heads marked in flight now (a scan: for tests and tools). */
    public int inFlight()
    {
        int count = 0;
        for (int head = 0; head < size; head++)
        {
            count += region.get(JAVA_BYTE, desc(head) + InflightLayout.DESC_INFLIGHT) != 0 ? 1 : 0;
        }
        return count;
    }
}
