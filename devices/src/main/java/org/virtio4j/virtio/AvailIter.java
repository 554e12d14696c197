package org.virtio4j.virtio;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;

/**
 * Takes chains from a queue's available ring, up to the avail.idx read when it started. Owned by its
 * {@link SplitQueue} and reused: get it from {@link SplitQueue#iter}.
 *
 * <p>Not thread-safe: used by the queue's owner.
 */
public final class AvailIter
{
    private final SplitQueue queue;
    private GuestMemory memory;
    private int lastIndex;
    private boolean lastResubmitted;

    AvailIter(final SplitQueue queue)
    {
        this.queue = queue;
    }

    AvailIter start(final GuestMemory memory, final int availIdx)
    {
        this.memory = memory;
        this.lastIndex = availIdx;
        return this;
    }

    /** @return the avail.idx this iteration stops at. */
    public int lastIndex()
    {
        return lastIndex;
    }

    /** @return how many entries are left before {@link #lastIndex()}. */
    public int remaining()
    {
        return RingIndex.distance(lastIndex, queue.nextAvail());
    }

    /**
     * Takes the next available entry and points {@code chain} at it. The head index is not checked here: a head
     * outside the table gives a chain that yields nothing ({@link ChainEnd#INDEX_OUT_OF_RANGE}).
     *
     * @param chain the cursor to reuse.
     * @return false when no entry is left, or the entry cannot be read (the position then does not move).
     */
    public boolean next(final DescriptorChain chain)
    {
        final InflightQueue inflight = queue.inflight();
        if (inflight != null && inflight.hasResubmit())
        {
            // A previous back-end's chains first, oldest first; they are still marked in flight.
            lastResubmitted = true;
            chain.reset(memory, queue.descTable(), queue.size(), inflight.nextResubmit());
            return true;
        }
        lastResubmitted = false;
        final int nextAvail = queue.nextAvail();
        if (nextAvail == lastIndex)
        {
            return false;
        }
        final int size = queue.size();
        final long offset = AvailRingLayout.RING_OFFSET + (long)AvailRingLayout.ENTRY_SIZE * RingIndex.slot(nextAvail, size);
        final long ring = queue.availRing();
        if (GuestAddress.addOverflows(ring, offset))
        {
            return false;
        }
        final int head;
        try
        {
            // Ordered after the acquire load of avail.idx that bounded this iteration.
            head = memory.getAtomicU16(ring + offset);
        }
        catch (final GuestMemoryException e)
        {
            return false;
        }
        queue.advanceNextAvail();
        if (inflight != null && head < size)
        {
            // In flight before any work for it starts (and before the next avail entry is read).
            inflight.taken(head);
        }
        chain.reset(memory, queue.descTable(), size, head);
        return true;
    }

    /** Steps back the entry {@link #next} just took (see {@link SplitQueue#goToPreviousPosition()}). */
    public void goToPreviousPosition()
    {
        if (lastResubmitted)
        {
            queue.inflight().unresubmit();
            lastResubmitted = false;
        }
        else
        {
            queue.goToPreviousPosition();
        }
    }
}
