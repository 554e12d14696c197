package org.virtio4j.memory;

/**
 * A guest-physical address: an unsigned 64-bit value held in a {@code long}.
 *
 * <p>Hot paths pass addresses as plain {@code long}s; this type is for APIs and messages, where it keeps
 * unsigned comparison and hex formatting in one place.
 *
 * @param value the address, as an unsigned 64-bit value.
 */
public record GuestAddress(long value) implements Comparable<GuestAddress>
{
    /**
     * @param offset bytes to add.
     * @return this address plus {@code offset}.
     * @throws ArithmeticException if the sum passes 2^64 - 1.
     */
    public GuestAddress checkedAdd(final long offset)
    {
        final long sum = value + offset;
        if (Long.compareUnsigned(sum, value) < 0 || offset < 0 && Long.compareUnsigned(offset, -value) > 0)
        {
            throw new ArithmeticException("guest address overflow: " + this + " + 0x" + Long.toHexString(offset));
        }
        return new GuestAddress(sum);
    }

    /**
     * Adds two unsigned 64-bit values and reports overflow.
     *
     * @param address an unsigned address.
     * @param length  an unsigned length.
     * @return true when {@code address + length} passes 2^64 - 1.
     */
    public static boolean addOverflows(final long address, final long length)
    {
        return Long.compareUnsigned(address + length, address) < 0;
    }

    @Override
    public int compareTo(final GuestAddress other)
    {
        return Long.compareUnsigned(value, other.value);
    }

    /**
     * @param address an unsigned address.
     * @return {@code 0x...} in lowercase hex.
     */
    public static String hex(final long address)
    {
        return "0x" + Long.toHexString(address);
    }

    @Override
    public String toString()
    {
        return hex(value);
    }
}
