package org.virtio4j.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of guest-physical memory backed by an off-heap segment.
 *
 * @param base        the guest-physical address of the first byte.
 * @param segment     the host memory holding the region; its size is the region's size.
 * @param userAddress the front-end's virtual address of the first byte (vhost-user translates ring addresses
 *                    through it), or 0 when there is no front-end.
 */
public record GuestRegion(long base, MemorySegment segment, long userAddress)
{
    /**
     * @param base    the guest-physical address of the first byte.
     * @param segment the host memory holding the region.
     */
    public GuestRegion(final long base, final MemorySegment segment)
    {
        this(base, segment, 0L);
    }

    /**
     * Checks the segment only: the set of regions is checked by {@link GuestMemory}.
     */
    public GuestRegion
    {
        Objects.requireNonNull(segment, "segment");
    }

    /** @return the region's size in bytes. */
    public long size()
    {
        return segment.byteSize();
    }

    /** @return the guest-physical address one past the last byte, as an unsigned value (0 if it is 2^64). */
    public long end()
    {
        return base + segment.byteSize();
    }

    @Override
    public String toString()
    {
        return "[" + GuestAddress.hex(base) + ", " + GuestAddress.hex(end()) + ")";
    }
}
