package org.virtio4j.devices.blk;

import java.util.Arrays;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.VirtioBlk;

/**
 * A parsed virtio-blk request: the header's type and sector, the data buffers in chain order, and where the
 * status byte goes. A reusable flyweight filled by {@link BlkRequestParser}; its fields are copies, so the guest
 * changing the header after parsing changes nothing here.
 *
 * <p>Not thread-safe.
 */
public final class BlkRequest
{
    private static final int INITIAL_SEGMENTS = 4;

    private int type;
    private long sector;
    private long[] dataAddrs = new long[INITIAL_SEGMENTS];
    private int[] dataLens = new int[INITIAL_SEGMENTS];
    private boolean[] dataWritable = new boolean[INITIAL_SEGMENTS];
    private int dataCount;
    private long totalDataLen;
    private long statusAddr;
    private int headIndex;
    private GuestMemoryException memoryError;

    void clear(final int headIndex)
    {
        this.headIndex = headIndex;
        type = 0;
        sector = 0;
        dataCount = 0;
        totalDataLen = 0;
        statusAddr = 0;
        memoryError = null;
    }

    void header(final int type, final long sector)
    {
        this.type = type;
        this.sector = sector;
    }

    void addData(final long addr, final int len, final boolean writable)
    {
        if (dataCount == dataAddrs.length)
        {
            dataAddrs = Arrays.copyOf(dataAddrs, dataCount * 2);
            dataLens = Arrays.copyOf(dataLens, dataCount * 2);
            dataWritable = Arrays.copyOf(dataWritable, dataCount * 2);
        }
        dataAddrs[dataCount] = addr;
        dataLens[dataCount] = len;
        dataWritable[dataCount] = writable;
        dataCount++;
        totalDataLen += Integer.toUnsignedLong(len);
    }

    void status(final long statusAddr)
    {
        this.statusAddr = statusAddr;
    }

    void memoryError(final GuestMemoryException error)
    {
        memoryError = error;
    }

    /** @return the chain's head index, for the used ring. */
    public int headIndex()
    {
        return headIndex;
    }

    /** @return the request type as the guest wrote it ({@link VirtioBlk#T_IN}, ...). */
    public int type()
    {
        return type;
    }

    /** @return the first sector (512-byte units) the request addresses. */
    public long sector()
    {
        return sector;
    }

    /** @return the number of data buffers. */
    public int dataCount()
    {
        return dataCount;
    }

    /**
     * @param i a data buffer index.
     * @return its guest address.
     */
    public long dataAddr(final int i)
    {
        return dataAddrs[i];
    }

    /**
     * @param i a data buffer index.
     * @return its length, as an int holding a u32.
     */
    public int dataLen(final int i)
    {
        return dataLens[i];
    }

    /**
     * @param i a data buffer index.
     * @return true if the guest marked it device-writable.
     */
    public boolean dataWritable(final int i)
    {
        return dataWritable[i];
    }

    /** @return the sum of the data buffers' lengths. */
    public long totalDataLen()
    {
        return totalDataLen;
    }

    /** @return where the status byte goes. */
    public long statusAddr()
    {
        return statusAddr;
    }

    /** @return for {@link BlkParseError#GUEST_MEMORY}, the failed access. */
    public GuestMemoryException memoryError()
    {
        return memoryError;
    }

    @Override
    public String toString()
    {
        return "BlkRequest[head=" + headIndex + " type=" + type + " sector=" + sector + " data=" + dataCount +
            " bytes=" + totalDataLen + " status=" + GuestAddress.hex(statusAddr) + "]";
    }
}
