package org.virtio4j.devices.blk;

import org.virtio4j.memory.GuestMemory;

/**
 * A disk that stores nothing, like Linux's null_blk: writes are dropped, reads leave the guest's buffers as they
 * are. For measuring the virtio path alone.
 */
public final class NullBackend implements BlkBackend
{
    private final long capacity;

    /**
     * @param capacity the size the device reports, a positive multiple of 512.
     */
    public NullBackend(final long capacity)
    {
        if (capacity <= 0 || capacity % 512 != 0)
        {
            throw new IllegalArgumentException("null backend capacity=" + capacity + " must be a positive multiple of 512");
        }
        this.capacity = capacity;
    }

    @Override
    public long capacity()
    {
        return capacity;
    }

    @Override
    public void read(final long offset, final GuestMemory memory, final long address, final int length)
    {
    }

    @Override
    public void write(final long offset, final GuestMemory memory, final long address, final int length)
    {
    }

    @Override
    public void flush()
    {
    }

    @Override
    public void discard(final long offset, final long length)
    {
    }

    @Override
    public void writeZeroes(final long offset, final long length, final boolean unmap)
    {
    }

    @Override
    public void close()
    {
    }
}
