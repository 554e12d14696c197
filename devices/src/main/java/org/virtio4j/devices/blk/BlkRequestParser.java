package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.VirtioBlk;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * Parses a virtio-blk request chain (virtio 1.2 section 5.2.6) with vm-virtio's rules, in this order:
 * <ol>
 *   <li>a head descriptor that is device-readable (else TOO_SHORT / UNEXPECTED_WRITE_ONLY);</li>
 *   <li>the 16-byte header {type u32, reserved u32, sector u64} read once at its address (its length is not
 *       checked, as in vm-virtio; a read that leaves guest memory is GUEST_MEMORY);</li>
 *   <li>FLUSH must address sector 0;</li>
 *   <li>every further descriptor with NEXT is data (device-writable for IN);</li>
 *   <li>the last one is the status: device-writable, at least 1 byte, its first byte in guest memory.</li>
 * </ol>
 * Unknown types parse; execution answers them UNSUPP. Parsing allocates nothing.
 *
 * <p>Not thread-safe: one per actor.
 */
public final class BlkRequestParser
{
    private final MemorySegment header = MemorySegment.ofArray(new long[2]);

    /**
     * @param chain   the request's chain, rewound by this call.
     * @param request filled with the request.
     * @return null if the request parsed, else why not.
     */
    public BlkParseError parse(final DescriptorChain chain, final BlkRequest request)
    {
        chain.rewind();
        request.clear(chain.headIndex());
        if (!chain.next())
        {
            return BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        if (chain.isWriteOnly())
        {
            return BlkParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR;
        }
        final GuestMemory memory = chain.memory();
        try
        {
            memory.read(chain.addr(), header, 0, VirtioBlk.HEADER_SIZE);
        }
        catch (final GuestMemoryException e)
        {
            request.memoryError(e);
            return BlkParseError.GUEST_MEMORY;
        }
        final int type = header.get(LE_U32, 0);
        final long sector = header.get(LE_U64, 8);
        request.header(type, sector);
        if (type == VirtioBlk.T_FLUSH && sector != 0)
        {
            return BlkParseError.INVALID_FLUSH_SECTOR;
        }
        if (!chain.next())
        {
            return BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
        }
        while (chain.hasNext())
        {
            if (type == VirtioBlk.T_IN && !chain.isWriteOnly())
            {
                return BlkParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR;
            }
            request.addData(chain.addr(), chain.len(), chain.isWriteOnly());
            if (!chain.next())
            {
                return BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
            }
        }
        if (!chain.isWriteOnly())
        {
            return BlkParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR;
        }
        if (chain.len() == 0)
        {
            return BlkParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
        }
        if (!memory.checkRange(chain.addr(), 1))
        {
            request.memoryError(GuestMemoryException.invalidAddress(chain.addr()));
            return BlkParseError.GUEST_MEMORY;
        }
        request.status(chain.addr());
        return null;
    }
}
