package org.virtio4j.devices.vsock;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;

/**
 * A vsock packet in guest memory: where its header and data are, and a copy of the header taken once (for TX) so
 * that the guest changing it afterwards changes nothing. For RX the copy starts zeroed and the device fills it,
 * then writes it with {@link #writeHeader}. A reusable flyweight filled by {@link VsockPacketParser}.
 *
 * <p>Not thread-safe.
 */
public final class VsockPacket
{
    /** {@link #dataLen()} when the packet has no data buffer. */
    public static final long NO_DATA = -1;

    private long headerAddr;
    private long dataAddr;
    private long dataLen = NO_DATA;
    private GuestMemoryException memoryError;
    private boolean headerRead;

    private long srcCid;
    private long dstCid;
    private int srcPort;
    private int dstPort;
    private int len;
    private int type;
    private int op;
    private int flags;
    private int bufAlloc;
    private int fwdCnt;

    void clear()
    {
        headerAddr = 0;
        dataAddr = 0;
        dataLen = NO_DATA;
        memoryError = null;
        headerRead = false;
        srcCid = 0;
        dstCid = 0;
        srcPort = 0;
        dstPort = 0;
        len = 0;
        type = 0;
        op = 0;
        flags = 0;
        bufAlloc = 0;
        fwdCnt = 0;
    }

    void readHeader(final GuestMemory memory, final long address)
    {
        srcCid = memory.getU64(address + VsockHeaderLayout.SRC_CID);
        dstCid = memory.getU64(address + VsockHeaderLayout.DST_CID);
        srcPort = memory.getU32(address + VsockHeaderLayout.SRC_PORT);
        dstPort = memory.getU32(address + VsockHeaderLayout.DST_PORT);
        len = memory.getU32(address + VsockHeaderLayout.LEN);
        type = memory.getU16(address + VsockHeaderLayout.TYPE);
        op = memory.getU16(address + VsockHeaderLayout.OP);
        flags = memory.getU32(address + VsockHeaderLayout.FLAGS);
        bufAlloc = memory.getU32(address + VsockHeaderLayout.BUF_ALLOC);
        fwdCnt = memory.getU32(address + VsockHeaderLayout.FWD_CNT);
        headerRead = true;
    }

    /** @return true if the header copy was read from a TX packet (its fields are the guest's). */
    public boolean headerRead()
    {
        return headerRead;
    }

    /**
     * Stores the header copy into guest memory at {@link #headerAddr()} (the RX path, after filling the fields).
     *
     * @param memory the guest's memory.
     */
    public void writeHeader(final GuestMemory memory)
    {
        final long address = headerAddr;
        memory.putU64(address + VsockHeaderLayout.SRC_CID, srcCid);
        memory.putU64(address + VsockHeaderLayout.DST_CID, dstCid);
        memory.putU32(address + VsockHeaderLayout.SRC_PORT, srcPort);
        memory.putU32(address + VsockHeaderLayout.DST_PORT, dstPort);
        memory.putU32(address + VsockHeaderLayout.LEN, len);
        memory.putU16(address + VsockHeaderLayout.TYPE, type);
        memory.putU16(address + VsockHeaderLayout.OP, op);
        memory.putU32(address + VsockHeaderLayout.FLAGS, flags);
        memory.putU32(address + VsockHeaderLayout.BUF_ALLOC, bufAlloc);
        memory.putU32(address + VsockHeaderLayout.FWD_CNT, fwdCnt);
    }

    void headerAt(final long address)
    {
        headerAddr = address;
    }

    void dataAt(final long address, final long length)
    {
        dataAddr = address;
        dataLen = length;
    }

    void memoryError(final GuestMemoryException error)
    {
        memoryError = error;
    }

    /** @return the guest address of the 44-byte header. */
    public long headerAddr()
    {
        return headerAddr;
    }

    /** @return the guest address of the data, meaningful when {@link #hasData()}. */
    public long dataAddr()
    {
        return dataAddr;
    }

    /** @return the length of the data buffer (a u32), or {@link #NO_DATA}. */
    public long dataLen()
    {
        return dataLen;
    }

    /** @return true if the packet has a data buffer. */
    public boolean hasData()
    {
        return dataLen != NO_DATA;
    }

    /** @return for {@link VsockParseError#INVALID_MEMORY_ACCESS}, the failed access. */
    public GuestMemoryException memoryError()
    {
        return memoryError;
    }

    /** @return the source context id. */
    public long srcCid()
    {
        return srcCid;
    }

    /** @return the destination context id. */
    public long dstCid()
    {
        return dstCid;
    }

    /** @return the source port (u32 in an int). */
    public int srcPort()
    {
        return srcPort;
    }

    /** @return the destination port (u32 in an int). */
    public int dstPort()
    {
        return dstPort;
    }

    /** @return the data length the header states (u32 in an int). */
    public int len()
    {
        return len;
    }

    /** @return the socket type. */
    public int type()
    {
        return type;
    }

    /** @return the operation. */
    public int op()
    {
        return op;
    }

    /** @return the flags (u32 in an int). */
    public int flags()
    {
        return flags;
    }

    /** @return the sender's receive buffer size (u32 in an int). */
    public int bufAlloc()
    {
        return bufAlloc;
    }

    /** @return the bytes the sender has consumed (u32 in an int). */
    public int fwdCnt()
    {
        return fwdCnt;
    }

    /**
     * Sets every header field of the copy (written to the guest by {@link #writeHeader}).
     *
     * @param srcCid   the source context id.
     * @param dstCid   the destination context id.
     * @param srcPort  the source port.
     * @param dstPort  the destination port.
     * @param len      the data length.
     * @param type     the socket type.
     * @param op       the operation.
     * @param flags    the flags.
     * @param bufAlloc the receive buffer size.
     * @param fwdCnt   the bytes consumed.
     * @return this.
     */
    public VsockPacket header(final long srcCid, final long dstCid, final int srcPort, final int dstPort, final int len,
        final int type, final int op, final int flags, final int bufAlloc, final int fwdCnt)
    {
        this.srcCid = srcCid;
        this.dstCid = dstCid;
        this.srcPort = srcPort;
        this.dstPort = dstPort;
        this.len = len;
        this.type = type;
        this.op = op;
        this.flags = flags;
        this.bufAlloc = bufAlloc;
        this.fwdCnt = fwdCnt;
        return this;
    }

    @Override
    public String toString()
    {
        return "VsockPacket[" + srcCid + ":" + Integer.toUnsignedString(srcPort) + " -> " + dstCid + ":" +
            Integer.toUnsignedString(dstPort) + " op=" + op + " type=" + type + " len=" + Integer.toUnsignedString(len) +
            " header=" + GuestAddress.hex(headerAddr) + " data=" + (hasData() ? GuestAddress.hex(dataAddr) + "+" + dataLen : "none") + "]";
    }
}
