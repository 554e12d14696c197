package org.virtio4j.devices.testing;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.driver.DriverBuffer;

/**
 * Builds descriptor chains straight into a descriptor table in guest memory, for tests of parsers that take a
 * {@link DescriptorChain} without a queue around it. Raw descriptors (any flags, any next) build malformed chains.
 */
public final class TestChains
{
    private final GuestMemory memory;
    private final long table;
    private final int tableSize;

    /**
     * @param memory    the guest memory.
     * @param table     the descriptor table's guest address.
     * @param tableSize the number of descriptors in the table.
     */
    public TestChains(final GuestMemory memory, final long table, final int tableSize)
    {
        this.memory = memory;
        this.table = table;
        this.tableSize = tableSize;
    }

    /**
     * Writes the buffers as descriptors 0, 1, ... linked with NEXT, and returns the chain at head 0.
     *
     * @param buffers the buffers in chain order.
     * @return the chain, rewound.
     */
    public DescriptorChain chain(final DriverBuffer... buffers)
    {
        for (int i = 0; i < buffers.length; i++)
        {
            final boolean last = i == buffers.length - 1;
            final DriverBuffer buffer = buffers[i];
            descriptor(i, buffer.addr(), buffer.len(),
                (buffer.writable() ? DescriptorLayout.F_WRITE : 0) | (last ? 0 : DescriptorLayout.F_NEXT), last ? 0 : i + 1);
        }
        return at(0);
    }

    /**
     * Writes the buffers as an indirect table at {@code indirectTable} and descriptor 0 as the INDIRECT descriptor
     * pointing at it.
     *
     * @param indirectTable where the indirect table goes.
     * @param buffers       the buffers in chain order.
     * @return the chain at head 0.
     */
    public DescriptorChain indirectChain(final long indirectTable, final DriverBuffer... buffers)
    {
        for (int i = 0; i < buffers.length; i++)
        {
            final boolean last = i == buffers.length - 1;
            final DriverBuffer buffer = buffers[i];
            descriptorAt(indirectTable + (long)DescriptorLayout.SIZE * i, buffer.addr(), buffer.len(),
                (buffer.writable() ? DescriptorLayout.F_WRITE : 0) | (last ? 0 : DescriptorLayout.F_NEXT), last ? 0 : i + 1);
        }
        descriptor(0, indirectTable, DescriptorLayout.SIZE * buffers.length, DescriptorLayout.F_INDIRECT, 0);
        return at(0);
    }

    /**
     * Writes one raw descriptor.
     *
     * @param index the table index.
     * @param addr  the buffer address.
     * @param len   the length.
     * @param flags the flags.
     * @param next  the next index.
     */
    public void descriptor(final int index, final long addr, final int len, final int flags, final int next)
    {
        descriptorAt(table + (long)DescriptorLayout.SIZE * index, addr, len, flags, next);
    }

    private void descriptorAt(final long at, final long addr, final int len, final int flags, final int next)
    {
        memory.putU64(at + DescriptorLayout.ADDR_OFFSET, addr);
        memory.putU32(at + DescriptorLayout.LEN_OFFSET, len);
        memory.putU16(at + DescriptorLayout.FLAGS_OFFSET, flags);
        memory.putU16(at + DescriptorLayout.NEXT_OFFSET, next);
    }

    /**
     * @param head a head index (may be out of range).
     * @return a new chain cursor at that head.
     */
    public DescriptorChain at(final int head)
    {
        return new DescriptorChain().reset(memory, table, tableSize, head);
    }
}
