package org.virtio4j.virtio.driver;

/**
 * One buffer a simulated driver puts in a chain.
 *
 * @param addr     its guest address.
 * @param len      its length (a u32 in an int).
 * @param writable true if the device may write it.
 */
public record DriverBuffer(long addr, int len, boolean writable)
{
    /**
     * @param addr its guest address.
     * @param len  its length.
     * @return a device-readable buffer.
     */
    public static DriverBuffer readable(final long addr, final int len)
    {
        return new DriverBuffer(addr, len, false);
    }

    /**
     * @param addr its guest address.
     * @param len  its length.
     * @return a device-writable buffer.
     */
    public static DriverBuffer writable(final long addr, final int len)
    {
        return new DriverBuffer(addr, len, true);
    }
}
