package org.virtio4j.virtio;

/**
 * Wrapping 16-bit ring index arithmetic, in one place. Ring indices (avail.idx, used.idx, next_avail,
 * next_used, the event indices) are free-running u16 counters held in an {@code int} in {@code [0, 65535]};
 * the slot of index {@code i} in a ring of size {@code n} is {@code i % n}.
 */
public final class RingIndex
{
    /** The number of distinct index values. */
    public static final int MODULUS = 1 << 16;
    private static final int MASK = MODULUS - 1;

    private RingIndex()
    {
    }

    /**
     * @param value any int.
     * @return its low 16 bits.
     */
    public static int wrap(final int value)
    {
        return value & MASK;
    }

    /**
     * @param index a ring index.
     * @return {@code index + 1}, wrapping.
     */
    public static int next(final int index)
    {
        return (index + 1) & MASK;
    }

    /**
     * @param index a ring index.
     * @return {@code index - 1}, wrapping.
     */
    public static int previous(final int index)
    {
        return (index - 1) & MASK;
    }

    /**
     * @param later   a ring index.
     * @param earlier a ring index.
     * @return {@code later - earlier} mod 2^16: how far {@code later} is ahead.
     */
    public static int distance(final int later, final int earlier)
    {
        return (later - earlier) & MASK;
    }

    /**
     * The event-index test (virtio 1.2 section 2.7.10, Linux {@code vring_need_event}): having moved an index
     * from {@code oldIndex} to {@code newIndex}, must the other side be notified, given that it asked to be
     * told once the index passes {@code eventIndex}?
     *
     * @param eventIndex the index the other side waits for.
     * @param newIndex   the index after the update.
     * @param oldIndex   the index before the update.
     * @return true if {@code eventIndex} lies in {@code [oldIndex, newIndex)}, wrapping.
     */
    public static boolean needsEvent(final int eventIndex, final int newIndex, final int oldIndex)
    {
        return distance(newIndex, eventIndex + 1) < distance(newIndex, oldIndex);
    }

    /**
     * @param index a ring index.
     * @param size  the ring size, a power of two.
     * @return the slot the index refers to.
     */
    public static int slot(final int index, final int size)
    {
        return index & (size - 1);
    }
}
