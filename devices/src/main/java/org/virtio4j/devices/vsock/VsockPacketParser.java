package org.virtio4j.devices.vsock;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.DescriptorChain;

/**
 * Takes vsock packets from TX chains (driver to device: header and data device-readable) and RX chains (device to
 * driver: device-writable) with vm-virtio's rules. Header and data may share one descriptor (Linux 6.2 and later)
 * or sit in two; each of header and data must lie inside one memory region.
 *
 * <p>Allocates nothing on success. Not thread-safe: one per actor.
 */
public final class VsockPacketParser
{
    private static final int HEADER = VsockHeaderLayout.SIZE;

    /**
     * TX: the head is the device-readable header (read once into the packet); the data follows it in the same
     * descriptor or is the next descriptor, and is exactly the header's len bytes long.
     *
     * @param chain       the chain, rewound by this call.
     * @param maxDataSize the most data a packet may carry.
     * @param packet      filled with the packet.
     * @return null on success, else why not.
     */
    public VsockParseError fromTx(final DescriptorChain chain, final int maxDataSize, final VsockPacket packet)
    {
        chain.rewind();
        packet.clear();
        if (!chain.next())
        {
            return VsockParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        if (chain.isWriteOnly())
        {
            return VsockParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR;
        }
        final long headLen = chain.lenUnsigned();
        if (headLen < HEADER)
        {
            return VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
        }
        final GuestMemory memory = chain.memory();
        final long headAddr = chain.addr();
        final VsockParseError error = checkSlice(memory, headAddr, HEADER, packet);
        if (error != null)
        {
            return error;
        }
        packet.headerAt(headAddr);
        packet.readHeader(memory, headAddr);
        final long dataLen = Integer.toUnsignedLong(packet.len());
        if (dataLen == 0)
        {
            return null;
        }
        if (dataLen > Integer.toUnsignedLong(maxDataSize))
        {
            return VsockParseError.INVALID_HEADER_LEN;
        }
        if (!chain.hasNext() && headLen - HEADER >= dataLen)
        {
            if (GuestAddress.addOverflows(headAddr, HEADER))
            {
                return VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
            }
            return data(memory, headAddr + HEADER, dataLen, packet);
        }
        if (!chain.hasNext() || !chain.next())
        {
            return VsockParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        if (chain.isWriteOnly())
        {
            return VsockParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR;
        }
        if (chain.lenUnsigned() < dataLen)
        {
            return VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
        }
        return data(memory, chain.addr(), dataLen, packet);
    }

    /**
     * RX: the head is the device-writable header buffer (not read: the packet's header copy is zeroed for the
     * device to fill); the data buffer is the rest of the head, or the next descriptor (at most
     * {@code maxDataSize} bytes; none if it is empty).
     *
     * @param chain       the chain, rewound by this call.
     * @param maxDataSize the most data a packet may carry (not applied to data in the head, as in vm-virtio).
     * @param packet      filled with the packet.
     * @return null on success, else why not.
     */
    public VsockParseError fromRx(final DescriptorChain chain, final int maxDataSize, final VsockPacket packet)
    {
        chain.rewind();
        packet.clear();
        if (!chain.next())
        {
            return VsockParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        if (!chain.isWriteOnly())
        {
            return VsockParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR;
        }
        final long headLen = chain.lenUnsigned();
        if (headLen < HEADER)
        {
            return VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
        }
        final GuestMemory memory = chain.memory();
        final long headAddr = chain.addr();
        final VsockParseError error = checkSlice(memory, headAddr, HEADER, packet);
        if (error != null)
        {
            return error;
        }
        packet.headerAt(headAddr);
        if (!chain.hasNext() && headLen > HEADER)
        {
            if (GuestAddress.addOverflows(headAddr, HEADER))
            {
                return VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
            }
            return data(memory, headAddr + HEADER, headLen - HEADER, packet);
        }
        if (!chain.hasNext() || !chain.next())
        {
            return VsockParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        if (!chain.isWriteOnly())
        {
            return VsockParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR;
        }
        final long dataLen = chain.lenUnsigned();
        if (dataLen > Integer.toUnsignedLong(maxDataSize))
        {
            return VsockParseError.DESCRIPTOR_LENGTH_TOO_LONG;
        }
        if (dataLen == 0)
        {
            return null;
        }
        return data(memory, chain.addr(), dataLen, packet);
    }

    private static VsockParseError data(final GuestMemory memory, final long address, final long length, final VsockPacket packet)
    {
        final VsockParseError error = checkSlice(memory, address, length, packet);
        if (error == null)
        {
            packet.dataAt(address, length);
        }
        return error;
    }

    /** The single-slice rule: the range must lie in the region its first byte is in. */
    private static VsockParseError checkSlice(final GuestMemory memory, final long address, final long length, final VsockPacket packet)
    {
        try
        {
            memory.regionHolding(address, length);
            return null;
        }
        catch (final GuestMemoryException e)
        {
            if (e.kind() == GuestMemoryException.Kind.INVALID_GUEST_ADDRESS)
            {
                packet.memoryError(e);
                return VsockParseError.INVALID_MEMORY_ACCESS;
            }
            return VsockParseError.FRAGMENTED_MEMORY;
        }
    }
}
