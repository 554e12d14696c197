package org.virtio4j.virtio;

/**
 * The available ring of a split virtqueue of size n, written by the driver (virtio 1.2 section 2.7.6),
 * 2-byte aligned, {@code 6 + 2n} bytes.
 * <pre>
 *  +---------------+---------------+---------------+-----+-----------------+---------------+
 *  | flags (u16)   | idx (u16)     | ring[0] (u16) | ... | ring[n-1] (u16) | used_event    |
 *  +---------------+---------------+---------------+-----+-----------------+---------------+
 *  0               2               4                     4 + 2(n-1)         4 + 2n
 * </pre>
 * {@code idx} is where the driver will put the next entry; {@code used_event} (with EVENT_IDX) asks the device to
 * notify only once used.idx passes it.
 */
public final class AvailRingLayout
{
    /** Offset of the flags. */
    public static final int FLAGS_OFFSET = 0;
    /** Offset of the free-running index. */
    public static final int IDX_OFFSET = 2;
    /** Offset of the first ring entry. */
    public static final int RING_OFFSET = 4;
    /** Size of one ring entry (a descriptor head index). */
    public static final int ENTRY_SIZE = 2;
    /** Required alignment. */
    public static final int ALIGNMENT = 2;
    /** Flag: the driver asks not to be interrupted (without EVENT_IDX). */
    public static final int F_NO_INTERRUPT = 1;

    private AvailRingLayout()
    {
    }

    /**
     * @param size the queue size.
     * @return the offset of {@code used_event}.
     */
    public static long usedEventOffset(final int size)
    {
        return RING_OFFSET + (long)ENTRY_SIZE * size;
    }

    /**
     * @param size the queue size.
     * @return the ring's size in bytes.
     */
    public static long byteSize(final int size)
    {
        return usedEventOffset(size) + 2;
    }
}
