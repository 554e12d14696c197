package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;

/**
 * A disk held in off-heap memory: fast, volatile, never blocks. Flush is a no-op (there is nothing below it).
 */
public final class RamBackend implements BlkBackend
{
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk;

    /**
     * @param capacity the size in bytes, a positive multiple of 512.
     */
    public RamBackend(final long capacity)
    {
        if (capacity <= 0 || capacity % 512 != 0)
        {
            throw new IllegalArgumentException("ram backend capacity=" + capacity + " must be a positive multiple of 512");
        }
        disk = arena.allocate(capacity, 4096);
    }

    @Override
    public long capacity()
    {
        return disk.byteSize();
    }

    @Override
    public void read(final long offset, final GuestMemory memory, final long address, final int length)
    {
        memory.write(address, disk, offset, Integer.toUnsignedLong(length));
    }

    @Override
    public void write(final long offset, final GuestMemory memory, final long address, final int length)
    {
        memory.read(address, disk, offset, Integer.toUnsignedLong(length));
    }

    @Override
    public void flush()
    {
    }

    @Override
    public void discard(final long offset, final long length)
    {
        disk.asSlice(offset, length).fill((byte)0);
    }

    @Override
    public void writeZeroes(final long offset, final long length, final boolean unmap)
    {
        disk.asSlice(offset, length).fill((byte)0);
    }

    /** @return the disk's bytes, for tests and inspection. */
    public MemorySegment segment()
    {
        return disk;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
