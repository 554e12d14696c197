package org.virtio4j.virtio.driver;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailRingLayout;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.RingIndex;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.UsedRingLayout;

/**
 * The driver's half of a split virtqueue, simulated: it lays out a descriptor table and both rings in real guest
 * memory, builds direct and indirect chains from a free list, publishes them in the available ring with a
 * release store of avail.idx (as a guest's write barrier does), and reads what the device put in the used ring.
 * Every module's tests, the benchmarks and {@code virtio4j demo} drive devices through it.
 *
 * <p>Layout from {@code base}: the descriptor table (16 * size bytes), then the available ring, then the used ring
 * at the next 4-byte boundary. See {@link #layoutBytes(int)}.
 *
 * <p>Not thread-safe: one driver thread per queue, like a guest driver holding its queue lock.
 */
public final class DriverQueue
{
    private static final int END = -1;

    private final GuestMemory memory;
    private final int size;
    private final long descTable;
    private final long availRing;
    private final long usedRing;
    private final int[] freeNext;
    private final int[] chainNext;
    private final int[] chainLength;
    private int freeHead;
    private int freeCount;
    private int availIdx;
    private int lastUsedIdx;
    private int lastUsedId;
    private int lastUsedLen;

    /**
     * Lays out a queue and zeroes its rings.
     *
     * @param memory the guest memory the queue lives in.
     * @param base   where the descriptor table starts (16-byte aligned).
     * @param size   the queue size, a power of two.
     */
    public DriverQueue(final GuestMemory memory, final long base, final int size)
    {
        if (size <= 0 || Integer.bitCount(size) != 1 || (base & (DescriptorLayout.TABLE_ALIGNMENT - 1)) != 0)
        {
            throw new IllegalArgumentException("driver queue size=" + size + " base=0x" + Long.toHexString(base));
        }
        this.memory = memory;
        this.size = size;
        this.descTable = base;
        this.availRing = base + (long)DescriptorLayout.SIZE * size;
        this.usedRing = align4(availRing + AvailRingLayout.byteSize(size));
        this.freeNext = new int[size];
        this.chainNext = new int[size];
        this.chainLength = new int[size];
        memory.fill(descTable, layoutBytes(size), (byte)0);
        for (int i = 0; i < size; i++)
        {
            freeNext[i] = i + 1 < size ? i + 1 : END;
        }
        freeHead = 0;
        freeCount = size;
    }

    private static long align4(final long address)
    {
        return (address + UsedRingLayout.ALIGNMENT - 1) & -UsedRingLayout.ALIGNMENT;
    }

    /**
     * @param size a queue size.
     * @return the bytes a queue of that size takes from its base: table, available ring, padding, used ring.
     */
    public static long layoutBytes(final int size)
    {
        final long avail = (long)DescriptorLayout.SIZE * size;
        return align4(avail + AvailRingLayout.byteSize(size)) + UsedRingLayout.byteSize(size);
    }

    /**
     * Configures the device's queue as a driver does through its transport: size, ring addresses, ready.
     *
     * @param queue the device's queue.
     * @return the same queue.
     */
    public SplitQueue configure(final SplitQueue queue)
    {
        queue.trySetSize(size);
        queue.trySetDescTableAddress(descTable);
        queue.trySetAvailRingAddress(availRing);
        queue.trySetUsedRingAddress(usedRing);
        queue.setReady(true);
        return queue;
    }

    /** @return the guest memory. */
    public GuestMemory memory()
    {
        return memory;
    }

    /** @return the queue size. */
    public int size()
    {
        return size;
    }

    /** @return the descriptor table address. */
    public long descTable()
    {
        return descTable;
    }

    /** @return the available ring address. */
    public long availRing()
    {
        return availRing;
    }

    /** @return the used ring address. */
    public long usedRing()
    {
        return usedRing;
    }

    /** @return how many descriptors are free for new chains. */
    public int freeDescriptors()
    {
        return freeCount;
    }

    /**
     * Writes one raw descriptor (for building malformed tables in tests).
     *
     * @param index the table index.
     * @param addr  the buffer address.
     * @param len   the buffer length.
     * @param flags the flags.
     * @param next  the next index.
     */
    public void writeDescriptor(final int index, final long addr, final int len, final int flags, final int next)
    {
        writeDescriptorAt(descTable + (long)DescriptorLayout.SIZE * index, addr, len, flags, next);
    }

    private void writeDescriptorAt(final long at, final long addr, final int len, final int flags, final int next)
    {
        memory.putU64(at + DescriptorLayout.ADDR_OFFSET, addr);
        memory.putU32(at + DescriptorLayout.LEN_OFFSET, len);
        memory.putU16(at + DescriptorLayout.FLAGS_OFFSET, flags);
        memory.putU16(at + DescriptorLayout.NEXT_OFFSET, next);
    }

    /**
     * Builds a chain of direct descriptors from the free list and makes it available.
     *
     * @param buffers the buffers, in chain order.
     * @return the head index.
     * @throws IllegalStateException if too few descriptors are free.
     */
    public int addChain(final DriverBuffer... buffers)
    {
        final int head = buildChain(buffers);
        makeAvailable(head);
        return head;
    }

    /**
     * Builds a chain without making it available (see {@link #makeAvailable}).
     *
     * @param buffers the buffers, in chain order.
     * @return the head index.
     */
    public int buildChain(final DriverBuffer... buffers)
    {
        if (buffers.length == 0 || buffers.length > freeCount)
        {
            throw new IllegalStateException("chain of " + buffers.length + " descriptors, " + freeCount + " free");
        }
        final int head = freeHead;
        int index = head;
        for (int i = 0; i < buffers.length; i++)
        {
            final int following = freeNext[index];
            final boolean last = i == buffers.length - 1;
            final DriverBuffer buffer = buffers[i];
            writeDescriptor(index, buffer.addr(), buffer.len(),
                (buffer.writable() ? DescriptorLayout.F_WRITE : 0) | (last ? 0 : DescriptorLayout.F_NEXT), last ? 0 : following);
            chainNext[index] = last ? END : following;
            if (!last)
            {
                index = following;
            }
            else
            {
                freeHead = following;
            }
        }
        chainLength[head] = buffers.length;
        freeCount -= buffers.length;
        return head;
    }

    /**
     * Builds a chain as one INDIRECT descriptor pointing at a table written at {@code tableAddr}, and makes it
     * available.
     *
     * @param tableAddr where to write the indirect table (16 bytes per buffer).
     * @param buffers   the buffers, in chain order.
     * @return the head index.
     */
    public int addIndirectChain(final long tableAddr, final DriverBuffer... buffers)
    {
        if (freeCount == 0)
        {
            throw new IllegalStateException("no free descriptor for an indirect chain");
        }
        for (int i = 0; i < buffers.length; i++)
        {
            final boolean last = i == buffers.length - 1;
            final DriverBuffer buffer = buffers[i];
            writeDescriptorAt(tableAddr + (long)DescriptorLayout.SIZE * i, buffer.addr(), buffer.len(),
                (buffer.writable() ? DescriptorLayout.F_WRITE : 0) | (last ? 0 : DescriptorLayout.F_NEXT), last ? 0 : i + 1);
        }
        final int head = freeHead;
        freeHead = freeNext[head];
        writeDescriptor(head, tableAddr, DescriptorLayout.SIZE * buffers.length, DescriptorLayout.F_INDIRECT, 0);
        chainNext[head] = END;
        chainLength[head] = 1;
        freeCount--;
        makeAvailable(head);
        return head;
    }

    /**
     * Puts a head in the next available slot and publishes it: the entry is stored first, then avail.idx with a
     * release store, so a device that loads avail.idx with acquire sees the entry.
     *
     * @param head the chain's head index.
     */
    public void makeAvailable(final int head)
    {
        memory.putAtomicU16(availRing + AvailRingLayout.RING_OFFSET + (long)AvailRingLayout.ENTRY_SIZE * RingIndex.slot(availIdx, size), head);
        availIdx = RingIndex.next(availIdx);
        memory.putU16Release(availRing + AvailRingLayout.IDX_OFFSET, availIdx);
    }

    /**
     * Puts a head in the available slot {@code offset} entries past avail.idx without publishing (for batching:
     * write several, then {@link #publish(int)}).
     *
     * @param offset entries past the current avail.idx.
     * @param head   the chain's head index.
     */
    public void stageAvailable(final int offset, final int head)
    {
        final int slot = RingIndex.slot(availIdx + offset, size);
        memory.putAtomicU16(availRing + AvailRingLayout.RING_OFFSET + (long)AvailRingLayout.ENTRY_SIZE * slot, head);
    }

    /**
     * Publishes staged entries by advancing avail.idx with one release store.
     *
     * @param count how many entries.
     */
    public void publish(final int count)
    {
        availIdx = RingIndex.wrap(availIdx + count);
        memory.putU16Release(availRing + AvailRingLayout.IDX_OFFSET, availIdx);
    }

    /** @return the avail.idx the driver last published. */
    public int availIdx()
    {
        return availIdx;
    }

    /**
     * Sets avail.idx directly (for tests of a driver that misbehaves).
     *
     * @param value the index to store.
     */
    public void setAvailIdx(final int value)
    {
        availIdx = RingIndex.wrap(value);
        memory.putU16Release(availRing + AvailRingLayout.IDX_OFFSET, availIdx);
    }

    /** @return used.idx, loaded with acquire (pairs with the device's release store). */
    public int usedIdx()
    {
        return memory.getU16Acquire(usedRing + UsedRingLayout.IDX_OFFSET);
    }

    /**
     * Takes the next used element, if the device has added one since the last call, and frees its chain's
     * descriptors. Read the element with {@link #lastUsedId()} and {@link #lastUsedLen()}.
     *
     * @return true if there was one.
     */
    public boolean pollUsed()
    {
        return pollUsed(true);
    }

    /**
     * Takes the next used element, if any.
     *
     * @param free true to return the chain's descriptors to the free list; false to keep the chain built, to make
     *             the same head available again (drivers that recycle fixed request slots).
     * @return true if there was one.
     */
    public boolean pollUsed(final boolean free)
    {
        if (usedIdx() == lastUsedIdx)
        {
            return false;
        }
        final long element = usedRing + UsedRingLayout.RING_OFFSET + (long)UsedRingLayout.ELEMENT_SIZE * RingIndex.slot(lastUsedIdx, size);
        lastUsedId = memory.getU32(element);
        lastUsedLen = memory.getU32(element + UsedRingLayout.ELEMENT_LEN_OFFSET);
        lastUsedIdx = RingIndex.next(lastUsedIdx);
        if (free)
        {
            free(lastUsedId);
        }
        return true;
    }

    /** @return the used index up to which {@link #pollUsed()} has taken elements. */
    public int lastSeenUsedIdx()
    {
        return lastUsedIdx;
    }

    /** @return the head index of the element {@link #pollUsed()} took. */
    public int lastUsedId()
    {
        return lastUsedId;
    }

    /** @return the length of the element {@link #pollUsed()} took. */
    public int lastUsedLen()
    {
        return lastUsedLen;
    }

    /**
     * @param position a used ring index (not a slot).
     * @return the id of the element at that position.
     */
    public int usedId(final int position)
    {
        return memory.getU32(usedRing + UsedRingLayout.RING_OFFSET + (long)UsedRingLayout.ELEMENT_SIZE * RingIndex.slot(position, size));
    }

    /**
     * @param position a used ring index (not a slot).
     * @return the length of the element at that position.
     */
    public int usedLen(final int position)
    {
        return memory.getU32(usedRing + UsedRingLayout.RING_OFFSET + (long)UsedRingLayout.ELEMENT_SIZE * RingIndex.slot(position, size) +
            UsedRingLayout.ELEMENT_LEN_OFFSET);
    }

    /**
     * Returns a chain's descriptors to the free list without reading the used ring (for benchmarks that recycle
     * chains themselves).
     *
     * @param head the chain's head index.
     */
    public void free(final int head)
    {
        if (head < 0 || head >= size || chainLength[head] == 0)
        {
            throw new IllegalStateException("head " + head + " is not an outstanding chain");
        }
        int index = head;
        int last = head;
        while (index != END)
        {
            last = index;
            index = chainNext[index];
        }
        freeNext[last] = freeHead;
        freeHead = head;
        freeCount += chainLength[head];
        chainLength[head] = 0;
    }

    /** @return used.flags (NO_NOTIFY when the device asks not to be kicked). */
    public int usedFlags()
    {
        return memory.getAtomicU16(usedRing + UsedRingLayout.FLAGS_OFFSET);
    }

    /** @return avail_event: with EVENT_IDX, kick once avail.idx passes it. */
    public int availEvent()
    {
        return memory.getAtomicU16(usedRing + UsedRingLayout.availEventOffset(size));
    }

    /**
     * With EVENT_IDX: ask to be notified once used.idx passes {@code value}.
     *
     * @param value the used_event index.
     */
    public void setUsedEvent(final int value)
    {
        memory.putAtomicU16(availRing + AvailRingLayout.usedEventOffset(size), value);
    }

    /**
     * @param flags avail.flags (NO_INTERRUPT).
     */
    public void setAvailFlags(final int flags)
    {
        memory.putAtomicU16(availRing + AvailRingLayout.FLAGS_OFFSET, flags);
    }

    /**
     * Should the driver kick after publishing? With EVENT_IDX, only if avail.idx passed avail_event since
     * {@code oldAvailIdx}; without, unless the device set NO_NOTIFY.
     *
     * @param eventIdx    whether EVENT_IDX was negotiated.
     * @param oldAvailIdx avail.idx before the publish.
     * @return true if the driver should kick.
     */
    public boolean shouldKick(final boolean eventIdx, final int oldAvailIdx)
    {
        GuestMemory.fullFence();
        if (eventIdx)
        {
            return RingIndex.needsEvent(availEvent(), availIdx, oldAvailIdx);
        }
        return (usedFlags() & UsedRingLayout.F_NO_NOTIFY) == 0;
    }
}
