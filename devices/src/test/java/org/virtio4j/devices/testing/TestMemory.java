package org.virtio4j.devices.testing;

import java.lang.foreign.Arena;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;

/**
 * Guest memory for tests: one zeroed off-heap region at guest address 0, freed with the arena.
 */
public final class TestMemory implements AutoCloseable
{
    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory;

    /** @param size the region size in bytes. */
    public TestMemory(final long size)
    {
        memory = GuestMemory.of(new GuestRegion(0, arena.allocate(size, 4096)));
    }

    /** @return the memory. */
    public GuestMemory memory()
    {
        return memory;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
