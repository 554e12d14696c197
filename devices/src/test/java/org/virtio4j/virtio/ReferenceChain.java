package org.virtio4j.virtio;

import java.util.ArrayList;
import java.util.List;

import org.virtio4j.memory.GuestAddress;

/**
 * An independent model of vm-virtio's descriptor chain walk (reference section 1.8), reading guest memory through
 * the test's own view ({@link GuardedMemory}), never through the code under test. The properties compare
 * {@link DescriptorChain} with it.
 *
 * @param descriptors what the walk yields, in order.
 * @param end         why it ends.
 * @param totalLength the sum of the yielded lengths.
 */
record ReferenceChain(List<Descriptor> descriptors, ChainEnd end, long totalLength)
{
    private static final long U32_MAX = 0xffff_ffffL;
    private static final int NEXT = 1;
    private static final int WRITE = 2;
    private static final int INDIRECT = 4;

    /**
     * One yielded descriptor, with where it was found.
     *
     * @param addr      its buffer address.
     * @param len       its length, unsigned.
     * @param flags     its flags.
     * @param next      its next field.
     * @param index     its index in the table it was read from.
     * @param tableSize the number of descriptors in that table.
     * @param indirect  true if that table is an indirect table.
     */
    record Descriptor(long addr, long len, int flags, int next, int index, int tableSize, boolean indirect)
    {
        boolean writable()
        {
            return (flags & WRITE) != 0;
        }
    }

    /**
     * Walks a chain as the virtio rules say.
     *
     * @param memory    the guest memory, read through the test's view.
     * @param descTable the queue's descriptor table.
     * @param queueSize the queue size.
     * @param head      the head index.
     * @return what the walk yields and why it ends.
     */
    static ReferenceChain walk(final GuardedMemory memory, final long descTable, final int queueSize, final int head)
    {
        final List<Descriptor> yielded = new ArrayList<>();
        long table = descTable;
        int tableSize = queueSize;
        int budget = queueSize;
        int index = head;
        boolean indirect = false;
        boolean sawLast = false;
        long total = 0;
        while (true)
        {
            if (budget == 0)
            {
                final ChainEnd end = sawLast ? ChainEnd.COMPLETE : indirect && tableSize == 0 ? ChainEnd.BAD_INDIRECT_TABLE : ChainEnd.TTL_EXPIRED;
                return new ReferenceChain(yielded, end, total);
            }
            if (index >= tableSize)
            {
                return new ReferenceChain(yielded, ChainEnd.INDEX_OUT_OF_RANGE, total);
            }
            final long offset = 16L * index;
            if (GuestAddress.addOverflows(table, offset) || !memory.covered(table + offset, 16))
            {
                return new ReferenceChain(yielded, ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, total);
            }
            final long at = table + offset;
            final long addr = memory.peek(at, 8);
            final long len = memory.peek(at + 8, 4);
            final int flags = (int)memory.peek(at + 12, 2);
            final int next = (int)memory.peek(at + 14, 2);
            if ((flags & INDIRECT) != 0)
            {
                if (indirect)
                {
                    return new ReferenceChain(yielded, ChainEnd.NESTED_INDIRECT, total);
                }
                if (len % 16 != 0 || len / 16 > 65535)
                {
                    return new ReferenceChain(yielded, ChainEnd.BAD_INDIRECT_TABLE, total);
                }
                table = addr;
                tableSize = (int)(len / 16);
                budget = tableSize;
                index = 0;
                indirect = true;
                continue;
            }
            if (total + len > U32_MAX)
            {
                return new ReferenceChain(yielded, ChainEnd.LENGTH_OVERFLOW, total);
            }
            total += len;
            yielded.add(new Descriptor(addr, len, flags, next, index, tableSize, indirect));
            if ((flags & NEXT) != 0)
            {
                index = next;
                budget--;
            }
            else
            {
                budget = 0;
                sawLast = true;
            }
        }
    }

    /**
     * @param writable which direction.
     * @return the buffers of that direction, in chain order.
     */
    List<Descriptor> buffers(final boolean writable)
    {
        final List<Descriptor> buffers = new ArrayList<>();
        for (final Descriptor d : descriptors)
        {
            if (d.writable() == writable)
            {
                buffers.add(d);
            }
        }
        return buffers;
    }

    /**
     * Where bytes {@code [from, from + count)} of a direction's byte stream live in guest memory.
     *
     * @param buffers the direction's buffers.
     * @param from    the first stream position.
     * @param count   how many positions.
     * @return their guest addresses.
     */
    static long[] streamAddresses(final List<Descriptor> buffers, final long from, final int count)
    {
        final long[] addresses = new long[count];
        long skip = from;
        int filled = 0;
        for (final Descriptor d : buffers)
        {
            if (filled == count)
            {
                break;
            }
            if (skip >= d.len())
            {
                skip -= d.len();
                continue;
            }
            for (long offset = skip; offset < d.len() && filled < count; offset++)
            {
                addresses[filled++] = d.addr() + offset;
            }
            skip = 0;
        }
        if (filled != count)
        {
            throw new IllegalArgumentException("stream positions up to " + (from + count) + " are past the buffers");
        }
        return addresses;
    }
}
