package org.virtio4j.devices.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;

/**
 * Guest memory whose regions are carved from one bigger host segment with guard bytes before, between and after
 * them. {@link #damagedGuardByte()} finds any guard byte that changed: a write outside guest memory.
 */
public final class GuardedMemory implements AutoCloseable
{
    /** Bytes of guard around each region. */
    public static final int GUARD = 4096;
    /** What every guard byte holds. */
    public static final byte GUARD_BYTE = 0x5a;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment whole;
    private final long[] guardOffsets;
    private final GuestMemory memory;

    /**
     * @param regions {guest base, size} of each region, sizes multiples of 4096.
     */
    public GuardedMemory(final long[]... regions)
    {
        long total = GUARD;
        for (final long[] region : regions)
        {
            total += region[1] + GUARD;
        }
        whole = arena.allocate(total, 4096);
        whole.fill(GUARD_BYTE);
        guardOffsets = new long[regions.length + 1];
        final GuestRegion[] guestRegions = new GuestRegion[regions.length];
        long offset = GUARD;
        for (int i = 0; i < regions.length; i++)
        {
            guardOffsets[i] = offset - GUARD;
            final MemorySegment slice = whole.asSlice(offset, regions[i][1]);
            slice.fill((byte)0);
            guestRegions[i] = new GuestRegion(regions[i][0], slice);
            offset += regions[i][1] + GUARD;
        }
        guardOffsets[regions.length] = offset - GUARD;
        memory = GuestMemory.of(guestRegions);
    }

    /** @return the guest memory. */
    public GuestMemory memory()
    {
        return memory;
    }

    /** @return the whole host segment, guards included (to check the guard check itself). */
    public MemorySegment host()
    {
        return whole;
    }

    /** @return the host offset of the first guard byte that changed, or -1 if none did. */
    public long damagedGuardByte()
    {
        for (final long start : guardOffsets)
        {
            for (long i = start; i < start + GUARD; i++)
            {
                if (whole.get(ValueLayout.JAVA_BYTE, i) != GUARD_BYTE)
                {
                    return i;
                }
            }
        }
        return -1;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
