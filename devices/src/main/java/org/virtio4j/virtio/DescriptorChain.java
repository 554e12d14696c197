package org.virtio4j.virtio;

import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * A cursor over one descriptor chain in guest memory: a reusable flyweight, so walking chains allocates nothing.
 * {@link #next()} moves to the next descriptor and exposes its fields, read once from guest memory (the copy is
 * what the device acts on; later guest writes do not change it).
 *
 * <p>The walk follows virtio 1.2 section 2.7.5 with vm-virtio's tolerances: an INDIRECT descriptor switches to its
 * table for the rest of the chain (its own NEXT, WRITE and next are ignored; the table needs no alignment, only a
 * length that is a multiple of 16 and at most 65535 entries; nesting is forbidden); at most as many descriptors
 * as the current table holds are yielded (loop detection); the yielded lengths never sum past 2^32 - 1. A
 * malformed chain ends silently where vm-virtio ends it, and {@link #end()} says why.
 *
 * <p>Not thread-safe: owned by the thread that processes the chain.
 */
public final class DescriptorChain
{
    private static final long U32_MAX = 0xffff_ffffL;

    private GuestMemory memory;
    private long headTable;
    private int headTableSize;
    private int headIndex;

    private long table;
    private int tableSize;
    private int ttl;
    private int nextIndex;
    private long yieldedBytes;
    private boolean inIndirect;
    private boolean sawLast;
    private ChainEnd end = ChainEnd.NONE;
    private GuestMemoryException memoryError;

    private long addr;
    private int len;
    private int flags;
    private int nextField;

    /**
     * Points this cursor at a chain and rewinds it.
     *
     * @param memory    the guest's memory.
     * @param descTable the descriptor table's guest address.
     * @param tableSize the number of descriptors in the table (the queue size).
     * @param head      the head index, as the driver wrote it (not yet checked).
     * @return this.
     */
    public DescriptorChain reset(final GuestMemory memory, final long descTable, final int tableSize, final int head)
    {
        this.memory = memory;
        this.headTable = descTable;
        this.headTableSize = tableSize;
        this.headIndex = head;
        return rewind();
    }

    /**
     * Goes back to before the head, to walk the chain again (re-reading guest memory).
     *
     * @return this.
     */
    public DescriptorChain rewind()
    {
        table = headTable;
        tableSize = headTableSize;
        ttl = headTableSize;
        nextIndex = headIndex;
        yieldedBytes = 0;
        inIndirect = false;
        sawLast = false;
        end = ChainEnd.NONE;
        memoryError = null;
        return this;
    }

    /**
     * @return a new cursor over the same chain, rewound.
     */
    public DescriptorChain copy()
    {
        return new DescriptorChain().reset(memory, headTable, headTableSize, headIndex);
    }

    /**
     * Moves to the next descriptor.
     *
     * @return true if there is one (its fields are now readable), false at the end of the chain (see {@link #end()}).
     */
    public boolean next()
    {
        if (end != ChainEnd.NONE)
        {
            return false;
        }
        while (true)
        {
            if (ttl == 0)
            {
                return stop(sawLast ? ChainEnd.COMPLETE : inIndirect && tableSize == 0 ? ChainEnd.BAD_INDIRECT_TABLE : ChainEnd.TTL_EXPIRED);
            }
            if (nextIndex >= tableSize)
            {
                return stop(ChainEnd.INDEX_OUT_OF_RANGE);
            }
            if (!load())
            {
                return stop(ChainEnd.DESCRIPTOR_NOT_IN_MEMORY);
            }
            if ((flags & DescriptorLayout.F_INDIRECT) == 0)
            {
                break;
            }
            if (inIndirect)
            {
                return stop(ChainEnd.NESTED_INDIRECT);
            }
            final long tableBytes = Integer.toUnsignedLong(len);
            if (tableBytes % DescriptorLayout.SIZE != 0 || tableBytes / DescriptorLayout.SIZE > DescriptorLayout.MAX_INDIRECT_ENTRIES)
            {
                return stop(ChainEnd.BAD_INDIRECT_TABLE);
            }
            table = addr;
            tableSize = (int)(tableBytes / DescriptorLayout.SIZE);
            ttl = tableSize;
            nextIndex = 0;
            inIndirect = true;
        }
        final long total = yieldedBytes + Integer.toUnsignedLong(len);
        if (total > U32_MAX)
        {
            return stop(ChainEnd.LENGTH_OVERFLOW);
        }
        yieldedBytes = total;
        if ((flags & DescriptorLayout.F_NEXT) != 0)
        {
            nextIndex = nextField;
            ttl--;
        }
        else
        {
            ttl = 0;
            sawLast = true;
        }
        return true;
    }

    /**
     * Moves to the next device-readable descriptor, skipping writable ones.
     *
     * @return true if there is one.
     */
    public boolean nextReadable()
    {
        while (next())
        {
            if (!isWriteOnly())
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Moves to the next device-writable descriptor, skipping readable ones.
     *
     * @return true if there is one.
     */
    public boolean nextWritable()
    {
        while (next())
        {
            if (isWriteOnly())
            {
                return true;
            }
        }
        return false;
    }

    private boolean stop(final ChainEnd reason)
    {
        end = reason;
        return false;
    }

    private boolean load()
    {
        final long offsetInTable = (long)DescriptorLayout.SIZE * nextIndex;
        if (GuestAddress.addOverflows(table, offsetInTable))
        {
            return false;
        }
        final long descAddress = table + offsetInTable;
        final GuestMemory memory = this.memory;
        final int region = memory.regionIndexOf(descAddress);
        if (region >= 0)
        {
            final MemorySegment segment = memory.segment(region);
            final long offset = descAddress - memory.base(region);
            if (segment.byteSize() - offset >= DescriptorLayout.SIZE)
            {
                addr = segment.get(LE_U64, offset + DescriptorLayout.ADDR_OFFSET);
                len = segment.get(LE_U32, offset + DescriptorLayout.LEN_OFFSET);
                flags = Short.toUnsignedInt(segment.get(LE_U16, offset + DescriptorLayout.FLAGS_OFFSET));
                nextField = Short.toUnsignedInt(segment.get(LE_U16, offset + DescriptorLayout.NEXT_OFFSET));
                return true;
            }
        }
        return loadSpanning(descAddress);
    }

    private boolean loadSpanning(final long descAddress)
    {
        // Rare: the descriptor crosses into an adjacent region (or is not in memory at all).
        try
        {
            final long a = memory.getU64(descAddress + DescriptorLayout.ADDR_OFFSET);
            final int l = memory.getU32(descAddress + DescriptorLayout.LEN_OFFSET);
            final int f = memory.getU16(descAddress + DescriptorLayout.FLAGS_OFFSET);
            final int n = memory.getU16(descAddress + DescriptorLayout.NEXT_OFFSET);
            addr = a;
            len = l;
            flags = f;
            nextField = n;
            return true;
        }
        catch (final GuestMemoryException e)
        {
            memoryError = e;
            return false;
        }
    }

    /** @return the guest memory the chain lives in. */
    public GuestMemory memory()
    {
        return memory;
    }

    /** @return the head index the chain was made from: the id to put in the used ring. */
    public int headIndex()
    {
        return headIndex;
    }

    /** @return the descriptor table the chain starts in. */
    public long descTable()
    {
        return headTable;
    }

    /** @return the size of the descriptor table the chain starts in. */
    public int tableSize()
    {
        return headTableSize;
    }

    /** @return the current descriptor's buffer address. */
    public long addr()
    {
        return addr;
    }

    /** @return the current descriptor's length, as an int holding a u32. */
    public int len()
    {
        return len;
    }

    /** @return the current descriptor's length as an unsigned value. */
    public long lenUnsigned()
    {
        return Integer.toUnsignedLong(len);
    }

    /** @return the current descriptor's flags. */
    public int flags()
    {
        return flags;
    }

    /** @return the current descriptor's next field, as written (meaningful with NEXT). */
    public int nextField()
    {
        return nextField;
    }

    /** @return true if the current descriptor is device-writable. */
    public boolean isWriteOnly()
    {
        return (flags & DescriptorLayout.F_WRITE) != 0;
    }

    /** @return true if the current descriptor has NEXT. */
    public boolean hasNext()
    {
        return (flags & DescriptorLayout.F_NEXT) != 0;
    }

    /** @return true if the walk is inside an indirect table. */
    public boolean inIndirectTable()
    {
        return inIndirect;
    }

    /** @return why the walk ended, or {@link ChainEnd#NONE} while it goes on. */
    public ChainEnd end()
    {
        return end;
    }

    /** @return for {@link ChainEnd#DESCRIPTOR_NOT_IN_MEMORY}, the failed read if there was one; else null. */
    public GuestMemoryException memoryError()
    {
        return memoryError;
    }

    /** @return the sum of the lengths yielded so far. */
    public long yieldedBytes()
    {
        return yieldedBytes;
    }

    @Override
    public String toString()
    {
        return "DescriptorChain[head=" + headIndex + " table=" + GuestAddress.hex(headTable) + " size=" + headTableSize + "]";
    }
}
