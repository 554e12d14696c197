package org.virtio4j.transport.vsock;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Map;

import io.aeron.Aeron;
import io.aeron.ControlledFragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.exceptions.AeronException;
import io.aeron.logbuffer.ControlledFragmentHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.virtio4j.devices.vsock.VsockHeaderLayout;

/**
 * One guest's port into the vsock fabric: a publication to each peer CID, made up front (never on the device's
 * thread), and the subscription for packets sent to this guest. Messages are the 44-byte little-endian vsock header
 * followed by the data.
 *
 * <p>Used by one device's thread; allocates nothing per packet.
 */
final class BridgePort implements AutoCloseable
{
    /** {@link #send}: the message went out. */
    static final int SENT = 0;
    /** {@link #send}: back-pressure or a transient condition; keep the packet and try again. */
    static final int RETRY = 1;
    /** {@link #send}: the peer has been unreachable for the peer timeout; give the packet up. */
    static final int LOST = 2;

    private final Subscription subscription;
    private final long[] peerCids;
    private final Publication[] publications;
    private final long[] unreachableSince;
    private final long peerTimeoutNanos;
    private final UnsafeBuffer outgoing = new UnsafeBuffer(ByteBuffer.allocateDirect(VsockHeaderLayout.SIZE + 128 * 1024));
    private final MemorySegment outgoingSegment = MemorySegment.ofBuffer(outgoing.byteBuffer());

    BridgePort(final Aeron aeron, final BridgeConfig config, final long localCid)
    {
        subscription = aeron.addSubscription(BridgeConfig.channel(config.endpoint()), streamId(localCid));
        final Map<Long, String> peers = config.peers();
        peerCids = new long[peers.size()];
        publications = new Publication[peers.size()];
        unreachableSince = new long[peers.size()];
        int i = 0;
        for (final Map.Entry<Long, String> peer : peers.entrySet())
        {
            peerCids[i] = peer.getKey();
            publications[i] = aeron.addExclusivePublication(BridgeConfig.channel(peer.getValue()), streamId(peer.getKey()));
            i++;
        }
        peerTimeoutNanos = config.peerTimeoutMs() * 1_000_000L;
    }

    private static int streamId(final long cid)
    {
        return (int)cid;
    }

    private int indexOf(final long cid)
    {
        for (int i = 0; i < peerCids.length; i++)
        {
            if (peerCids[i] == cid)
            {
                return i;
            }
        }
        return -1;
    }

    /** @return true if the fabric knows where this CID lives. */
    boolean routes(final long cid)
    {
        return indexOf(cid) >= 0;
    }

    /**
     * @param cid a CID.
     * @param now the current nanoTime.
     * @return true if that CID is routed and its host has been unreachable for the peer timeout.
     */
    boolean lost(final long cid, final long now)
    {
        final int i = indexOf(cid);
        if (i < 0)
        {
            return false;
        }
        if (publications[i].isConnected())
        {
            unreachableSince[i] = 0;
            return false;
        }
        if (unreachableSince[i] == 0)
        {
            unreachableSince[i] = now;
            return false;
        }
        return now - unreachableSince[i] >= peerTimeoutNanos;
    }

    /** @return how long a peer may be unreachable before its connections are given up. */
    long peerTimeoutNanos()
    {
        return peerTimeoutNanos;
    }

    /** @return the buffer to build an outgoing message in (header at 0, data at 44), as a memory segment. */
    MemorySegment outgoing()
    {
        return outgoingSegment;
    }

    /**
     * Sends the message built in {@link #outgoing()}.
     *
     * @param cid    the destination CID (routed).
     * @param length the message length.
     * @param now    the current nanoTime.
     * @return {@link #SENT}, {@link #RETRY} (back-pressure: nothing is dropped) or {@link #LOST} (the peer stayed
     *         unreachable for the peer timeout).
     */
    int send(final long cid, final int length, final long now)
    {
        final int i = indexOf(cid);
        final long result;
        try
        {
            result = publications[i].offer(outgoing, 0, length);
        }
        catch (final AeronException | IllegalArgumentException e)
        {
            return LOST;
        }
        if (result > 0)
        {
            unreachableSince[i] = 0;
            return SENT;
        }
        if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            if (unreachableSince[i] == 0)
            {
                unreachableSince[i] = now;
            }
            return now - unreachableSince[i] >= peerTimeoutNanos ? LOST : RETRY;
        }
        return RETRY;
    }

    /**
     * @param handler given each whole message; it may abort to leave a message for later.
     * @param limit   the most fragments.
     * @return the fragments read.
     */
    int poll(final ControlledFragmentHandler handler, final int limit)
    {
        return subscription.controlledPoll(handler, limit);
    }

    static ControlledFragmentHandler assembler(final ControlledFragmentHandler handler)
    {
        return new ControlledFragmentAssembler(handler);
    }

    @Override
    public void close()
    {
        for (final Publication publication : publications)
        {
            publication.close();
        }
        subscription.close();
    }
}
