package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct iovec} arrays in native memory: 16 bytes each, the base address at 0 and the length at 8.
 *
 * <pre>
 *  0               8               16
 * +---------------+---------------+
 * | iov_base      | iov_len       |   x count
 * +---------------+---------------+
 * </pre>
 */
final class IoVecs
{
    /** Bytes per iovec. */
    static final int SIZE = 16;

    @SuppressWarnings("restricted") // only our own iovec arrays, allocated by BlkSlot, are read and written through it
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private IoVecs()
    {
    }

    static long base(final long iovecs, final int index)
    {
        return ALL.get(JAVA_LONG, iovecs + (long)index * SIZE);
    }

    static long length(final long iovecs, final int index)
    {
        return ALL.get(JAVA_LONG, iovecs + (long)index * SIZE + 8);
    }

    static void set(final long iovecs, final int index, final long base, final long length)
    {
        ALL.set(JAVA_LONG, iovecs + (long)index * SIZE, base);
        ALL.set(JAVA_LONG, iovecs + (long)index * SIZE + 8, length);
    }
}
