package org.virtio4j.virtio;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;

/**
 * The device side of a split virtqueue (virtio 1.2 section 2.7), with the behaviour of vm-virtio's
 * {@code virtio_queue::Queue}: configuration with its checks, popping chains from the available ring, adding
 * used elements, and notification suppression with and without EVENT_IDX.
 *
 * <p>The configuration (size, ring addresses, ready) is set by the control plane; the indices move as the device
 * works. Everything read from guest memory is checked: ring addresses are computed with overflow checks, and
 * every load and store goes through {@link GuestMemory}'s checked accessors.
 *
 * <p>Not thread-safe: a queue has one owner (its device actor), which is the only writer of its used ring.
 */
public final class SplitQueue
{
    /** The largest queue size virtio allows for a split ring. */
    public static final int MAX_QUEUE_SIZE = 32768;

    private final int maxSize;
    private final AvailIter availIter = new AvailIter(this);
    private int size;
    private boolean ready;
    private long descTable;
    private long availRing;
    private long usedRing;
    private int nextAvail;
    private InflightQueue inflight;
    private int nextUsed;
    private int numAdded;
    private boolean eventIdx;

    /**
     * @param maxSize the most entries the device supports: a power of two in [1, 32768].
     * @throws QueueException {@link QueueError#INVALID_MAX_SIZE} otherwise.
     */
    public SplitQueue(final int maxSize)
    {
        if (maxSize <= 0 || maxSize > MAX_QUEUE_SIZE || Integer.bitCount(maxSize) != 1)
        {
            throw new QueueException(QueueError.INVALID_MAX_SIZE, "maxSize=" + maxSize);
        }
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Configuration (control plane)
    // ---------------------------------------------------------------------------------------------------------------

    /** @return the largest size the driver may choose. */
    public int maxSize()
    {
        return maxSize;
    }

    /** @return the size the driver chose (the maximum until it chooses). */
    public int size()
    {
        return size;
    }

    /**
     * @param newSize the size: a power of two in [1, maxSize].
     * @throws QueueException {@link QueueError#INVALID_SIZE} otherwise; the size is then unchanged.
     */
    public void trySetSize(final int newSize)
    {
        if (newSize <= 0 || newSize > maxSize || Integer.bitCount(newSize) != 1)
        {
            throw new QueueException(QueueError.INVALID_SIZE, "size=" + newSize + " maxSize=" + maxSize);
        }
        size = newSize;
    }

    /**
     * The register-write form of {@link #trySetSize}: an invalid size is ignored.
     *
     * @param newSize the size the driver wrote.
     * @return true if it was taken.
     */
    public boolean setSize(final int newSize)
    {
        if (newSize <= 0 || newSize > maxSize || Integer.bitCount(newSize) != 1)
        {
            return false;
        }
        size = newSize;
        return true;
    }

    /** @return true once the driver has made the queue ready. */
    public boolean ready()
    {
        return ready;
    }

    /** @param ready whether the queue is live. */
    public void setReady(final boolean ready)
    {
        this.ready = ready;
    }

    /** @return the descriptor table's guest address. */
    public long descTable()
    {
        return descTable;
    }

    /** @return the available ring's guest address. */
    public long availRing()
    {
        return availRing;
    }

    /** @return the used ring's guest address. */
    public long usedRing()
    {
        return usedRing;
    }

    /**
     * @param address the descriptor table address, 16-byte aligned.
     * @throws QueueException {@link QueueError#DESC_TABLE_MISALIGNED}; the address is then unchanged.
     */
    public void trySetDescTableAddress(final long address)
    {
        if ((address & (DescriptorLayout.TABLE_ALIGNMENT - 1)) != 0)
        {
            throw new QueueException(QueueError.DESC_TABLE_MISALIGNED, "descTable=" + GuestAddress.hex(address));
        }
        descTable = address;
    }

    /**
     * @param address the available ring address, 2-byte aligned.
     * @throws QueueException {@link QueueError#AVAIL_RING_MISALIGNED}; the address is then unchanged.
     */
    public void trySetAvailRingAddress(final long address)
    {
        if ((address & (AvailRingLayout.ALIGNMENT - 1)) != 0)
        {
            throw new QueueException(QueueError.AVAIL_RING_MISALIGNED, "availRing=" + GuestAddress.hex(address));
        }
        availRing = address;
    }

    /**
     * @param address the used ring address, 4-byte aligned.
     * @throws QueueException {@link QueueError#USED_RING_MISALIGNED}; the address is then unchanged.
     */
    public void trySetUsedRingAddress(final long address)
    {
        if ((address & (UsedRingLayout.ALIGNMENT - 1)) != 0)
        {
            throw new QueueException(QueueError.USED_RING_MISALIGNED, "usedRing=" + GuestAddress.hex(address));
        }
        usedRing = address;
    }

    /**
     * The register-write form: either 32-bit half may be missing (null) and is then taken from the current
     * address; a misaligned result is ignored.
     *
     * @param low  bits 0-31, or null.
     * @param high bits 32-63, or null.
     * @return true if the address was taken.
     */
    public boolean setDescTableAddress(final Integer low, final Integer high)
    {
        final long address = combine(descTable, low, high);
        if ((address & (DescriptorLayout.TABLE_ALIGNMENT - 1)) != 0)
        {
            return false;
        }
        descTable = address;
        return true;
    }

    /**
     * @param low  bits 0-31, or null to keep them.
     * @param high bits 32-63, or null to keep them.
     * @return true if the address was taken.
     * @see #setDescTableAddress(Integer, Integer)
     */
    public boolean setAvailRingAddress(final Integer low, final Integer high)
    {
        final long address = combine(availRing, low, high);
        if ((address & (AvailRingLayout.ALIGNMENT - 1)) != 0)
        {
            return false;
        }
        availRing = address;
        return true;
    }

    /**
     * @param low  bits 0-31, or null to keep them.
     * @param high bits 32-63, or null to keep them.
     * @return true if the address was taken.
     * @see #setDescTableAddress(Integer, Integer)
     */
    public boolean setUsedRingAddress(final Integer low, final Integer high)
    {
        final long address = combine(usedRing, low, high);
        if ((address & (UsedRingLayout.ALIGNMENT - 1)) != 0)
        {
            return false;
        }
        usedRing = address;
        return true;
    }

    private static long combine(final long current, final Integer low, final Integer high)
    {
        final long lowBits = low != null ? Integer.toUnsignedLong(low) : current & 0xffff_ffffL;
        final long highBits = high != null ? Integer.toUnsignedLong(high) << 32 : current & 0xffff_ffff_0000_0000L;
        return highBits | lowBits;
    }

    /** @return true if EVENT_IDX was negotiated for this queue. */
    public boolean eventIdxEnabled()
    {
        return eventIdx;
    }

    /** @param enabled whether EVENT_IDX was negotiated. */
    public void setEventIdx(final boolean enabled)
    {
        eventIdx = enabled;
    }

    /** @return the index of the next available entry the device will take. */
    public int nextAvail()
    {
        return nextAvail;
    }

    /** @param value the next available index (restored state); the low 16 bits are taken. */
    public void setNextAvail(final int value)
    {
        nextAvail = RingIndex.wrap(value);
    }

    /** @return the index of the next used entry the device will write. */
    public int nextUsed()
    {
        return nextUsed;
    }

    /** @param value the next used index (restored state); the low 16 bits are taken. */
    public void setNextUsed(final int value)
    {
        nextUsed = RingIndex.wrap(value);
    }

    /**
     * Can the device use this queue? It must be ready, and its three rings must lie in guest memory (the
     * descriptor table and available ring readable, the used ring writable).
     *
     * @param memory the guest's memory.
     * @return true if the queue is usable.
     */
    public boolean isValid(final GuestMemory memory)
    {
        return ready &&
            memory.checkRange(descTable, (long)DescriptorLayout.SIZE * size) &&
            memory.checkRange(availRing, AvailRingLayout.byteSize(size)) &&
            memory.checkRange(usedRing, UsedRingLayout.byteSize(size));
    }

    /** Back to the state after construction: not ready, maximum size, addresses and indices 0, no EVENT_IDX. */
    public void reset()
    {
        ready = false;
        size = maxSize;
        descTable = 0;
        availRing = 0;
        usedRing = 0;
        nextAvail = 0;
        nextUsed = 0;
        numAdded = 0;
        eventIdx = false;
        inflight = null;
    }

    /**
     * Records every chain taken and returned in an inflight region from now on (vhost-user INFLIGHT_SHMFD), and
     * resubmits, before any new avail entry, the chains a previous back-end left in flight there.
     *
     * @param tracking the queue's region, already {@link InflightQueue#recover recovered}; null to stop tracking.
     */
    public void trackInflight(final InflightQueue tracking)
    {
        inflight = tracking;
    }

    /** @return the inflight tracking of this queue, or null. */
    public InflightQueue inflight()
    {
        return inflight;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The data path
    // ---------------------------------------------------------------------------------------------------------------

    private static long ringField(final long ring, final long offset)
    {
        if (GuestAddress.addOverflows(ring, offset))
        {
            throw new QueueException(QueueError.ADDRESS_OVERFLOW, "ring=" + GuestAddress.hex(ring) + " offset=" + offset);
        }
        return ring + offset;
    }

    /**
     * Loads avail.idx with acquire ordering: the ring entries the driver wrote before bumping it are visible after.
     * Pairs with the driver's store-release (virtio's write barrier) of avail.idx.
     *
     * @param memory the guest's memory.
     * @return the driver's available index.
     * @throws QueueException {@link QueueError#ADDRESS_OVERFLOW} or {@link QueueError#GUEST_MEMORY}.
     */
    public int availIdxAcquire(final GuestMemory memory)
    {
        final long address = ringField(availRing, AvailRingLayout.IDX_OFFSET);
        try
        {
            return memory.getU16Acquire(address);
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
    }

    /**
     * Loads used.idx with acquire ordering (for inspection; the device knows it as {@link #nextUsed()}).
     *
     * @param memory the guest's memory.
     * @return the index in the used ring.
     * @throws QueueException {@link QueueError#ADDRESS_OVERFLOW} or {@link QueueError#GUEST_MEMORY}.
     */
    public int usedIdxAcquire(final GuestMemory memory)
    {
        final long address = ringField(usedRing, UsedRingLayout.IDX_OFFSET);
        try
        {
            return memory.getU16Acquire(address);
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
    }

    /**
     * Starts taking chains from the available ring. The returned iterator is owned by this queue and reused by
     * the next call: no allocation.
     *
     * @param memory the guest's memory.
     * @return the iterator, positioned at {@link #nextAvail()}.
     * @throws QueueException {@link QueueError#NOT_READY} if the queue is not ready or has no available ring;
     *                        {@link QueueError#TOO_MANY_AVAILABLE} if the driver exposed more than {@link #size()}
     *                        chains; a memory error reading avail.idx.
     */
    public AvailIter iter(final GuestMemory memory)
    {
        if (!ready || availRing == 0)
        {
            throw new QueueException(QueueError.NOT_READY, "ready=" + ready + " availRing=" + GuestAddress.hex(availRing));
        }
        final int availIdx = availIdxAcquire(memory);
        final int exposed = RingIndex.distance(availIdx, nextAvail);
        if (exposed > size)
        {
            throw new QueueException(QueueError.TOO_MANY_AVAILABLE,
                "availIdx=" + availIdx + " nextAvail=" + nextAvail + " size=" + size);
        }
        return availIter.start(memory, availIdx);
    }

    /**
     * {@link #iter}, for devices whose queue may legitimately not be set up yet.
     *
     * @param memory the guest's memory.
     * @return the iterator, or null if the queue is not ready (or has no available ring).
     * @throws QueueException as {@link #iter}, for every other reason.
     */
    public AvailIter iterIfReady(final GuestMemory memory)
    {
        if (!ready || availRing == 0)
        {
            return null;
        }
        return iter(memory);
    }

    /**
     * Takes the next chain, if any: {@link #iter} and one step, with every error folded into "no chain"
     * (as vm-virtio's {@code pop_descriptor_chain}). Devices that need the reason use {@link #iter}.
     *
     * @param memory the guest's memory.
     * @param chain  the cursor to point at the chain.
     * @return true if {@code chain} now holds a chain.
     */
    public boolean popDescriptorChain(final GuestMemory memory, final DescriptorChain chain)
    {
        try
        {
            return iter(memory).next(chain);
        }
        catch (final QueueException e)
        {
            return false;
        }
    }

    /** Steps back one available entry, so that the last chain taken is taken again. */
    public void goToPreviousPosition()
    {
        nextAvail = RingIndex.previous(nextAvail);
    }

    void advanceNextAvail()
    {
        nextAvail = RingIndex.next(nextAvail);
    }

    /**
     * Returns a chain to the driver: writes the used element {@code {id = head, len}} and publishes used.idx with a
     * release store, so the driver that reads used.idx (with its read barrier) sees the element.
     *
     * @param memory the guest's memory.
     * @param head   the chain's head index.
     * @param length the bytes the device wrote into the chain.
     * @throws QueueException {@link QueueError#INVALID_DESCRIPTOR_INDEX} if {@code head >= size} (nothing written);
     *                        a memory error writing the element (indices unchanged) or used.idx (indices already
     *                        advanced).
     */
    public void addUsed(final GuestMemory memory, final int head, final int length)
    {
        if (head < 0 || head >= size)
        {
            throw new QueueException(QueueError.INVALID_DESCRIPTOR_INDEX, "head=" + head + " size=" + size);
        }
        final long element = ringField(usedRing,
            UsedRingLayout.RING_OFFSET + (long)UsedRingLayout.ELEMENT_SIZE * RingIndex.slot(nextUsed, size));
        final InflightQueue inflight = this.inflight;
        if (inflight != null)
        {
            inflight.returning(head);
        }
        try
        {
            // One 8-byte little-endian store: id in the low half, len in the high half.
            memory.putU64(element, Integer.toUnsignedLong(length) << 32 | head);
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
        nextUsed = RingIndex.next(nextUsed);
        numAdded = RingIndex.next(numAdded);
        final long idx = ringField(usedRing, UsedRingLayout.IDX_OFFSET);
        try
        {
            memory.putU16Release(idx, nextUsed);
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
        if (inflight != null)
        {
            // Cleared only once used.idx covers it: a crash in between leaves it recoverable, never lost.
            inflight.returned(head, nextUsed);
        }
    }

    /**
     * Asks the driver to kick again: with EVENT_IDX, sets avail_event to {@link #nextAvail()}; without, clears
     * used.flags. A full fence then orders that store before the re-read of avail.idx, so that a chain the driver
     * added meanwhile is not missed.
     *
     * @param memory the guest's memory.
     * @return true if more chains are already available (the caller should process them rather than sleep).
     * @throws QueueException a memory or address error.
     */
    public boolean enableNotification(final GuestMemory memory)
    {
        try
        {
            if (eventIdx)
            {
                memory.putAtomicU16(ringField(usedRing, UsedRingLayout.availEventOffset(size)), nextAvail);
            }
            else
            {
                memory.putAtomicU16(ringField(usedRing, UsedRingLayout.FLAGS_OFFSET), 0);
            }
            GuestMemory.fullFence();
            return memory.getAtomicU16(ringField(availRing, AvailRingLayout.IDX_OFFSET)) != nextAvail;
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
    }

    /**
     * Asks the driver not to kick: without EVENT_IDX sets used.flags to NO_NOTIFY; with EVENT_IDX does nothing
     * (avail_event simply stays behind).
     *
     * @param memory the guest's memory.
     * @throws QueueException a memory error.
     */
    public void disableNotification(final GuestMemory memory)
    {
        if (eventIdx)
        {
            return;
        }
        try
        {
            memory.putAtomicU16(ringField(usedRing, UsedRingLayout.FLAGS_OFFSET), UsedRingLayout.F_NO_NOTIFY);
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
    }

    /**
     * Must the driver be notified of the used elements added since the last call? Without EVENT_IDX always
     * (avail.flags NO_INTERRUPT is not honoured, as in vm-virtio). With EVENT_IDX, only if used.idx passed the
     * driver's used_event; the count of added elements is then reset, so a second call without new elements
     * says no.
     *
     * @param memory the guest's memory.
     * @return true if the device should signal the driver.
     * @throws QueueException a memory or address error reading used_event (the count is then kept).
     */
    public boolean needsNotification(final GuestMemory memory)
    {
        GuestMemory.fullFence();
        if (!eventIdx)
        {
            return true;
        }
        final int usedEvent;
        try
        {
            usedEvent = memory.getAtomicU16(ringField(availRing, AvailRingLayout.usedEventOffset(size)));
        }
        catch (final GuestMemoryException e)
        {
            throw new QueueException(QueueError.GUEST_MEMORY, e);
        }
        final int old = RingIndex.wrap(nextUsed - numAdded);
        numAdded = 0;
        return RingIndex.needsEvent(usedEvent, nextUsed, old);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // State
    // ---------------------------------------------------------------------------------------------------------------

    /** @return a snapshot of the queue's state (without the count of elements added since the last notification). */
    public QueueState state()
    {
        return new QueueState(maxSize, nextAvail, nextUsed, eventIdx, size, ready, descTable, availRing, usedRing);
    }

    /**
     * Builds a queue from an untrusted snapshot, running every check a new queue gets, in vm-virtio's order:
     * max size, then size, then the three ring alignments.
     *
     * @param state the snapshot.
     * @return the queue.
     * @throws QueueException the first check that fails.
     */
    public static SplitQueue restore(final QueueState state)
    {
        final SplitQueue queue = new SplitQueue(state.maxSize());
        queue.setNextAvail(state.nextAvail());
        queue.setNextUsed(state.nextUsed());
        queue.setEventIdx(state.eventIdxEnabled());
        queue.trySetSize(state.size());
        queue.setReady(state.ready());
        queue.trySetDescTableAddress(state.descTable());
        queue.trySetAvailRingAddress(state.availRing());
        queue.trySetUsedRingAddress(state.usedRing());
        return queue;
    }

    @Override
    public String toString()
    {
        return "SplitQueue" + state();
    }
}
