package org.virtio4j.virtio;

/**
 * The used ring of a split virtqueue of size n, written by the device (virtio 1.2 section 2.7.8),
 * 4-byte aligned, {@code 6 + 8n} bytes.
 * <pre>
 *  +-------------+-------------+----------------------------+-----+---------------------+--------------+
 *  | flags (u16) | idx (u16)   | ring[0]: id (u32) len (u32)| ... | ring[n-1]           | avail_event  |
 *  +-------------+-------------+----------------------------+-----+---------------------+--------------+
 *  0             2             4                                  4 + 8(n-1)            4 + 8n
 * </pre>
 * {@code id} is the head index of the chain returned, {@code len} the bytes the device wrote into it;
 * {@code avail_event} (with EVENT_IDX) asks the driver to kick only once avail.idx passes it.
 */
public final class UsedRingLayout
{
    /** Offset of the flags. */
    public static final int FLAGS_OFFSET = 0;
    /** Offset of the free-running index. */
    public static final int IDX_OFFSET = 2;
    /** Offset of the first element. */
    public static final int RING_OFFSET = 4;
    /** Size of one used element. */
    public static final int ELEMENT_SIZE = 8;
    /** Offset of {@code len} within an element. */
    public static final int ELEMENT_LEN_OFFSET = 4;
    /** Required alignment. */
    public static final int ALIGNMENT = 4;
    /** Flag: the device asks not to be kicked (without EVENT_IDX). */
    public static final int F_NO_NOTIFY = 1;

    private UsedRingLayout()
    {
    }

    /**
     * @param size the queue size.
     * @return the offset of {@code avail_event}.
     */
    public static long availEventOffset(final int size)
    {
        return RING_OFFSET + (long)ELEMENT_SIZE * size;
    }

    /**
     * @param size the queue size.
     * @return the ring's size in bytes.
     */
    public static long byteSize(final int size)
    {
        return availEventOffset(size) + 2;
    }
}
