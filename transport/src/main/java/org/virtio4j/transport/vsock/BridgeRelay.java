package org.virtio4j.transport.vsock;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.virtio4j.devices.vsock.VsockHeaderLayout;
import org.virtio4j.devices.vsock.VsockPacket;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.VirtioVsock;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The remote half of a guest's vsock: packets for CIDs on other hosts go out through its {@link BridgePort}, packets
 * from them are checked and queued in a {@link PacketRing} until the guest has receive buffers (split across
 * buffers when they are smaller). It remembers which remote connections exist, so that when their host stays
 * unreachable for the peer timeout they are reset in the guest.
 *
 * <p>Driven by the device's thread through {@link VsockHost}; allocates nothing per packet.
 */
final class BridgeRelay implements AutoCloseable
{
    /** Where a refusal (an RST to the guest) goes: the host's queue of control packets. */
    @FunctionalInterface
    interface Refusals
    {
        void refuse(int guestPort, int peerPort, long peerCid);
    }

    private static final int MAX_REMOTE = 1024;
    private static final long INBOUND_CAPACITY = 8L << 20;
    private static final int MAX_MESSAGE = VsockHeaderLayout.SIZE + 64 * 1024;
    private static final int POLL_FRAGMENTS = 64;
    private static final long PEER_CHECK_NANOS = 100_000_000L;

    private final long guestCid;
    private final BridgePort bridge;
    private final Refusals refusals;
    private final PacketRing inbound = new PacketRing(INBOUND_CAPACITY);
    private final ControlledFragmentHandler inboundHandler = BridgePort.assembler(this::onBridged);
    private final long[] remoteGuestPorts = new long[MAX_REMOTE];
    private final long[] remoteCids = new long[MAX_REMOTE];
    private final long[] remotePorts = new long[MAX_REMOTE];
    private int remoteCount;
    private long lastPeerCheck;
    private long headBlockedSince;
    private long packetsBridgedOut;
    private long packetsBridgedIn;
    private long peerResets;
    private long badPackets;

    BridgeRelay(final long guestCid, final BridgePort bridge, final Refusals refusals)
    {
        this.guestCid = guestCid;
        this.bridge = bridge;
        this.refusals = refusals;
    }

    /** @return true if the fabric knows where this CID lives. */
    boolean routes(final long cid)
    {
        return bridge.routes(cid);
    }

    /**
     * Takes what the fabric sent (as long as the ring has room) and resets connections of unreachable hosts.
     *
     * @param now the current nanoTime.
     * @return the work done.
     */
    int poll(final long now)
    {
        int work = bridge.poll(inboundHandler, POLL_FRAGMENTS);
        if (now - lastPeerCheck >= PEER_CHECK_NANOS)
        {
            lastPeerCheck = now;
            work += checkPeers(now);
        }
        return work;
    }

    /** @return true if a packet from the fabric waits for the guest. */
    boolean hasPacket()
    {
        return !inbound.isEmpty();
    }

    /** Sends a guest packet to the host serving its destination CID; false while the fabric holds it back. */
    boolean forward(final GuestMemory memory, final VsockPacket packet)
    {
        final MemorySegment out = bridge.outgoing();
        final int length = packet.hasData() ? (int)packet.dataLen() : 0;
        out.set(LE_U64, VsockHeaderLayout.SRC_CID, packet.srcCid());
        out.set(LE_U64, VsockHeaderLayout.DST_CID, packet.dstCid());
        out.set(LE_U32, VsockHeaderLayout.SRC_PORT, packet.srcPort());
        out.set(LE_U32, VsockHeaderLayout.DST_PORT, packet.dstPort());
        out.set(LE_U32, VsockHeaderLayout.LEN, length);
        out.set(LE_U16, VsockHeaderLayout.TYPE, (short)packet.type());
        out.set(LE_U16, VsockHeaderLayout.OP, (short)packet.op());
        out.set(LE_U32, VsockHeaderLayout.FLAGS, packet.flags());
        out.set(LE_U32, VsockHeaderLayout.BUF_ALLOC, packet.bufAlloc());
        out.set(LE_U32, VsockHeaderLayout.FWD_CNT, packet.fwdCnt());
        if (length > 0)
        {
            memory.read(packet.dataAddr(), out, VsockHeaderLayout.SIZE, length);
        }
        final long now = System.nanoTime();
        int sent;
        if (packet.op() == VirtioVsock.OP_REQUEST)
        {
            // A new connection waits up to the peer timeout for its host, however long that host was away before.
            sent = bridge.send(packet.dstCid(), VsockHeaderLayout.SIZE + length, now);
            if (sent == BridgePort.LOST && (headBlockedSince == 0 || now - headBlockedSince < bridge.peerTimeoutNanos()))
            {
                sent = BridgePort.RETRY;
            }
        }
        else
        {
            sent = bridge.lost(packet.dstCid(), now) ? BridgePort.LOST : bridge.send(packet.dstCid(), VsockHeaderLayout.SIZE + length, now);
        }
        if (sent == BridgePort.RETRY)
        {
            if (headBlockedSince == 0)
            {
                headBlockedSince = now;
            }
            return false;
        }
        headBlockedSince = 0;
        if (sent == BridgePort.LOST)
        {
            // The peer's host stayed unreachable: reset the connection (once) rather than hold the guest.
            final boolean wasOpen = forgetRemote(packet.srcPort(), packet.dstCid(), packet.dstPort());
            if (wasOpen)
            {
                peerResets++;
            }
            if (wasOpen || packet.op() == VirtioVsock.OP_REQUEST)
            {
                refusals.refuse(packet.srcPort(), packet.dstPort(), packet.dstCid());
            }
            return true;
        }
        packetsBridgedOut++;
        track(packet.op(), packet.srcPort(), packet.dstCid(), packet.dstPort());
        return true;
    }

    /**
     * A packet from the fabric for our guest: checked (an untrusted network sent it), then queued whole until the
     * guest has receive buffers. When the queue is full it stays in Aeron (flow control holds the sender back).
     */
    private ControlledFragmentHandler.Action onBridged(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final long srcCid = length >= VsockHeaderLayout.SIZE ? buffer.getLong(offset + VsockHeaderLayout.SRC_CID, ByteOrder.LITTLE_ENDIAN) : -1;
        if (length < VsockHeaderLayout.SIZE || length > MAX_MESSAGE ||
            buffer.getLong(offset + VsockHeaderLayout.DST_CID, ByteOrder.LITTLE_ENDIAN) != guestCid ||
            Integer.toUnsignedLong(buffer.getInt(offset + VsockHeaderLayout.LEN, ByteOrder.LITTLE_ENDIAN)) != length - VsockHeaderLayout.SIZE ||
            srcCid == VirtioVsock.HOST_CID || srcCid == guestCid || !bridge.routes(srcCid) ||
            buffer.getShort(offset + VsockHeaderLayout.TYPE, ByteOrder.LITTLE_ENDIAN) != VirtioVsock.TYPE_STREAM)
        {
            badPackets++;
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        if (!inbound.fits(length))
        {
            return ControlledFragmentHandler.Action.ABORT;
        }
        packetsBridgedIn++;
        inbound.add(buffer, offset, length);
        track(buffer.getShort(offset + VsockHeaderLayout.OP, ByteOrder.LITTLE_ENDIAN),
            buffer.getInt(offset + VsockHeaderLayout.DST_PORT, ByteOrder.LITTLE_ENDIAN),
            buffer.getLong(offset + VsockHeaderLayout.SRC_CID, ByteOrder.LITTLE_ENDIAN),
            buffer.getInt(offset + VsockHeaderLayout.SRC_PORT, ByteOrder.LITTLE_ENDIAN));
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    /** Remembers which remote connections exist, to reset them in the guest if their host goes away. */
    private void track(final int op, final int guestPort, final long remoteCid, final int remotePort)
    {
        if (op == VirtioVsock.OP_RST)
        {
            forgetRemote(guestPort, remoteCid, remotePort);
            return;
        }
        for (int i = 0; i < remoteCount; i++)
        {
            if (remoteGuestPorts[i] == guestPort && remoteCids[i] == remoteCid && remotePorts[i] == remotePort)
            {
                return;
            }
        }
        if (remoteCount < MAX_REMOTE && (op == VirtioVsock.OP_REQUEST || op == VirtioVsock.OP_RESPONSE))
        {
            remoteGuestPorts[remoteCount] = guestPort;
            remoteCids[remoteCount] = remoteCid;
            remotePorts[remoteCount] = remotePort;
            remoteCount++;
        }
    }

    /** @return true if the connection was tracked. */
    private boolean forgetRemote(final long guestPort, final long remoteCid, final long remotePort)
    {
        for (int i = 0; i < remoteCount; i++)
        {
            if (remoteGuestPorts[i] == guestPort && remoteCids[i] == remoteCid && remotePorts[i] == remotePort)
            {
                removeRemote(i);
                return true;
            }
        }
        return false;
    }

    private void removeRemote(final int i)
    {
        remoteCount--;
        remoteGuestPorts[i] = remoteGuestPorts[remoteCount];
        remoteCids[i] = remoteCids[remoteCount];
        remotePorts[i] = remotePorts[remoteCount];
    }

    /** Resets, in the guest, the connections whose host has been unreachable for the peer timeout. */
    private int checkPeers(final long now)
    {
        int reset = 0;
        for (int i = remoteCount - 1; i >= 0; i--)
        {
            if (bridge.lost(remoteCids[i], now))
            {
                refusals.refuse((int)remoteGuestPorts[i], (int)remotePorts[i], remoteCids[i]);
                peerResets++;
                removeRemote(i);
                reset++;
            }
        }
        return reset;
    }

    /** Delivers the oldest bridged packet, as much of its data as the receive buffer holds (the rest goes next). */
    long deliver(final GuestMemory memory, final VsockPacket packet)
    {
        final MemorySegment message = inbound.ring();
        final long at = inbound.headOffset();
        final int dataLength = message.get(LE_U32, at + VsockHeaderLayout.LEN);
        final int consumed = inbound.headConsumed();
        final int room = packet.hasData() ? (int)Math.min(packet.dataLen(), Integer.MAX_VALUE) : 0;
        final int length = Math.min(dataLength - consumed, room);
        if (length > 0)
        {
            memory.write(packet.dataAddr(), message, at + VsockHeaderLayout.SIZE + consumed, length);
        }
        packet.header(message.get(LE_U64, at + VsockHeaderLayout.SRC_CID), message.get(LE_U64, at + VsockHeaderLayout.DST_CID),
            message.get(LE_U32, at + VsockHeaderLayout.SRC_PORT), message.get(LE_U32, at + VsockHeaderLayout.DST_PORT), length,
            Short.toUnsignedInt(message.get(LE_U16, at + VsockHeaderLayout.TYPE)),
            Short.toUnsignedInt(message.get(LE_U16, at + VsockHeaderLayout.OP)),
            message.get(LE_U32, at + VsockHeaderLayout.FLAGS), message.get(LE_U32, at + VsockHeaderLayout.BUF_ALLOC),
            message.get(LE_U32, at + VsockHeaderLayout.FWD_CNT));
        inbound.consume(length, consumed + length >= dataLength);
        return length;
    }

    /** Forgets every packet and remote connection (the guest is gone). */
    void clear()
    {
        inbound.clear();
        remoteCount = 0;
        headBlockedSince = 0;
    }

    long packetsBridgedOut()
    {
        return packetsBridgedOut;
    }

    long packetsBridgedIn()
    {
        return packetsBridgedIn;
    }

    long peerResets()
    {
        return peerResets;
    }

    long badPackets()
    {
        return badPackets;
    }

    @Override
    public void close()
    {
        bridge.close();
        inbound.close();
    }
}
