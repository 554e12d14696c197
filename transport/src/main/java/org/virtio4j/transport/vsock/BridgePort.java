package org.virtio4j.transport.vsock;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.FragmentAssembler;
import org.agrona.concurrent.UnsafeBuffer;
import org.virtio4j.devices.vsock.VsockHeaderLayout;

/**
 * One guest's port into the vsock fabric: publishes packets to remote CIDs and polls the packets sent to it.
 * Messages are the 44-byte little-endian vsock header followed by the data.
 *
 * <p>Used by one device's thread.
 */
final class BridgePort implements AutoCloseable
{
    private final Aeron aeron;
    private final BridgeConfig config;
    private final Subscription subscription;
    private final Map<Long, Publication> publications = new HashMap<>();
    private final UnsafeBuffer outgoing = new UnsafeBuffer(ByteBuffer.allocateDirect(VsockHeaderLayout.SIZE + 128 * 1024));
    private final MemorySegment outgoingSegment = MemorySegment.ofBuffer(outgoing.byteBuffer());

    BridgePort(final Aeron aeron, final BridgeConfig config, final long localCid)
    {
        this.aeron = aeron;
        this.config = config;
        subscription = aeron.addSubscription(BridgeConfig.channel(config.endpoint()), streamId(localCid));
    }

    private static int streamId(final long cid)
    {
        return (int)cid;
    }

    /** @return true if the fabric knows where this CID lives. */
    boolean routes(final long cid)
    {
        return config.peers().containsKey(cid);
    }

    private Publication publication(final long cid)
    {
        Publication publication = publications.get(cid);
        if (publication == null)
        {
            publication = aeron.addExclusivePublication(BridgeConfig.channel(config.peers().get(cid)), streamId(cid));
            publications.put(cid, publication);
        }
        return publication;
    }

    /** @return true if the host serving this CID is reachable now. */
    boolean connected(final long cid)
    {
        return publication(cid).isConnected();
    }

    /** @return the buffer to build an outgoing message in (header at 0, data at 44), as a memory segment. */
    MemorySegment outgoing()
    {
        return outgoingSegment;
    }

    /**
     * Sends the message built in {@link #outgoing()}.
     *
     * @param cid    the destination CID.
     * @param length the message length.
     * @return false if the peer is back-pressured or unreachable (the caller keeps the packet and retries).
     */
    boolean send(final long cid, final int length)
    {
        return publication(cid).offer(outgoing, 0, length) > 0;
    }

    /**
     * @param handler given each whole message.
     * @param limit   the most fragments.
     * @return the fragments read.
     */
    int poll(final FragmentHandler handler, final int limit)
    {
        return subscription.poll(handler, limit);
    }

    static FragmentHandler assembler(final FragmentHandler handler)
    {
        return new FragmentAssembler(handler);
    }

    @Override
    public void close()
    {
        for (final Publication publication : publications.values())
        {
            publication.close();
        }
        subscription.close();
    }
}
