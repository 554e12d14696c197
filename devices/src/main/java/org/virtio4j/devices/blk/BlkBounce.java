package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;

/**
 * Aligned bounce buffers for O_DIRECT requests whose guest buffers, offset or length are not aligned to what the
 * file needs: a fixed pool allocated once. A request takes a buffer, moves its data in chunks of at most one
 * buffer through it, and gives it back. Also copies between a buffer and a request's data descriptors.
 *
 * <p>Owned by one actor.
 */
final class BlkBounce implements AutoCloseable
{
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] buffers;
    private final int[] free;
    private int freeCount;
    private final int size;

    /**
     * @param count     buffers.
     * @param size      bytes each, a multiple of the alignment.
     * @param alignment the memory alignment O_DIRECT needs.
     */
    BlkBounce(final int count, final int size, final int alignment)
    {
        this.size = size;
        buffers = new MemorySegment[count];
        free = new int[count];
        for (int i = 0; i < count; i++)
        {
            buffers[i] = arena.allocate(size, Math.max(alignment, 4096));
            free[i] = i;
        }
        freeCount = count;
    }

    int size()
    {
        return size;
    }

    /** @return a free buffer's index, or -1 if every buffer is in use. */
    int take()
    {
        return freeCount == 0 ? -1 : free[--freeCount];
    }

    void give(final int buffer)
    {
        free[freeCount++] = buffer;
    }

    long address(final int buffer)
    {
        return buffers[buffer].address();
    }

    MemorySegment buffer(final int buffer)
    {
        return buffers[buffer];
    }

    /**
     * Copies request data bytes [from, from + length) between guest memory and a buffer.
     *
     * @param memory   the guest's memory.
     * @param request  the request (its data descriptors, already checked to lie in guest memory).
     * @param from     the first byte of the request's data.
     * @param buffer   the bounce buffer.
     * @param atBuffer where in the buffer that byte goes or comes from.
     * @param length   the bytes.
     * @param toGuest  true to copy buffer to guest, false guest to buffer.
     */
    void copy(final GuestMemory memory, final BlkRequest request, final long from, final int buffer, final long atBuffer,
        final long length, final boolean toGuest)
    {
        final MemorySegment segment = buffers[buffer];
        long skip = from;
        long left = length;
        long at = atBuffer;
        for (int i = 0; i < request.dataCount() && left > 0; i++)
        {
            final long descLength = Integer.toUnsignedLong(request.dataLen(i));
            if (skip >= descLength)
            {
                skip -= descLength;
                continue;
            }
            final long n = Math.min(descLength - skip, left);
            if (toGuest)
            {
                memory.write(request.dataAddr(i) + skip, segment, at, n);
            }
            else
            {
                memory.read(request.dataAddr(i) + skip, segment, at, n);
            }
            at += n;
            left -= n;
            skip = 0;
        }
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
