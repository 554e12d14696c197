package org.virtio4j.devices.vsock;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

import org.virtio4j.devices.core.ConfigSpace;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.PolledDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.ChainWriter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.VirtioVsock;

import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * A virtio-vsock device (device id 19) at the packet level: rx, tx and event queues and config {guest_cid}.
 * Packets from transmit chains go to a {@link VsockPacketHandler}; packets the handler has for the guest fill
 * receive chains. Malformed chains are returned with length 0 and counted by reason.
 *
 * <p>Not thread-safe: one actor drives the device.
 */
public final class VsockDevice implements PolledDevice, DeviceCounters
{
    /** The most data one packet carries (what Linux's virtio transport uses). */
    public static final int MAX_PACKET_DATA = 64 * 1024;

    private final long guestCid;
    private final byte[] config = new byte[Long.BYTES];
    private final int queueSize;
    private final VsockPacketHandler handler;
    private final VsockPacketParser parser = new VsockPacketParser();
    private final VsockPacket packet = new VsockPacket();
    private final DescriptorChain chain = new DescriptorChain();
    private final long[] parseErrors = new long[VsockParseError.values().length];
    private GuestMemory memory;
    private SplitQueue[] queues;
    private Interrupt interrupt;
    private long packetsFromGuest;
    private long packetsToGuest;
    private boolean transmitBlocked;

    /**
     * @param guestCid  the guest's context id (3 or above).
     * @param queueSize each queue's maximum size.
     * @param handler   what handles the packets.
     */
    public VsockDevice(final long guestCid, final int queueSize, final VsockPacketHandler handler)
    {
        if (Long.compareUnsigned(guestCid, 3) < 0 || Long.compareUnsigned(guestCid, 0xffff_ffffL) >= 0)
        {
            throw new IllegalArgumentException("vsock guest cid=" + Long.toUnsignedString(guestCid) + " must be in [3, 2^32 - 2]");
        }
        this.guestCid = guestCid;
        this.queueSize = queueSize;
        this.handler = handler;
        MemorySegment.ofArray(config).set(LE_U64, 0, guestCid);
    }

    @Override
    public int deviceType()
    {
        return DeviceType.VSOCK;
    }

    @Override
    public long deviceFeatures()
    {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) |
            VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioVsock.F_STREAM);
    }

    @Override
    public int[] queueMaxSizes()
    {
        return new int[] {queueSize, queueSize, queueSize};
    }

    @Override
    public int configSize()
    {
        return Long.BYTES;
    }

    @Override
    public int readConfig(final int offset, final byte[] data)
    {
        return ConfigSpace.read(config, offset, data);
    }

    @Override
    public int writeConfig(final int offset, final byte[] data)
    {
        return 0;
    }

    @Override
    public void activate(final GuestMemory memory, final SplitQueue[] queues, final long negotiatedFeatures, final Interrupt interrupt)
        throws DeviceException
    {
        if (queues.length != 3 || memory == null)
        {
            throw new DeviceException("vsock activate: queues=" + queues.length + " memory=" + memory);
        }
        this.memory = memory;
        this.queues = queues;
        this.interrupt = interrupt;
    }

    @Override
    public int queueNotify(final int queueIndex) throws DeviceException
    {
        return process(queueIndex, true);
    }

    @Override
    public int processQueue(final int queueIndex) throws DeviceException
    {
        return process(queueIndex, false);
    }

    private int process(final int queueIndex, final boolean signal) throws DeviceException
    {
        if (queues == null)
        {
            return 0;
        }
        try
        {
            return switch (queueIndex)
            {
                case VirtioVsock.TXQ -> transmit(signal) + receive(signal);
                case VirtioVsock.RXQ -> receive(signal);
                default -> 0;
            };
        }
        catch (final QueueException e)
        {
            throw new DeviceException("vsock queue " + queueIndex + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int poll(final int[] completedPerQueue) throws DeviceException
    {
        int work = handler.pollHost();
        if (queues != null && transmitBlocked)
        {
            final int sent = process(VirtioVsock.TXQ, false);
            completedPerQueue[VirtioVsock.TXQ] += sent;
            work += sent;
        }
        if (queues != null && handler.hasPacketForGuest())
        {
            final int delivered = process(VirtioVsock.RXQ, false);
            completedPerQueue[VirtioVsock.RXQ] += delivered;
            work += delivered;
        }
        return work;
    }

    /**
     * Resets the transport while the guest runs (the host side lost its state): drops every connection on the host
     * side and puts a TRANSPORT_RESET event (id 0, 4 bytes) in the next event-queue buffer, so the driver drops
     * its connections too.
     *
     * @return true if the event reached the guest (false if the event queue had no buffer).
     * @throws DeviceException if the event queue needs a reset.
     */
    public boolean transportReset() throws DeviceException
    {
        handler.transportReset();
        if (queues == null || !queues[VirtioVsock.EVENTQ].ready())
        {
            return false;
        }
        final SplitQueue queue = queues[VirtioVsock.EVENTQ];
        try
        {
            final AvailIter iter = queue.iter(memory);
            if (!iter.next(chain))
            {
                return false;
            }
            final ChainWriter writer = new ChainWriter().load(memory, chain);
            int used = 0;
            if (writer.availableBytes() >= Integer.BYTES)
            {
                writer.writeU32(VirtioVsock.EVENT_TRANSPORT_RESET);
                used = Integer.BYTES;
            }
            queue.addUsed(memory, chain.headIndex(), used);
            signal(queue, VirtioVsock.EVENTQ, 1);
            return used > 0;
        }
        catch (final QueueException e)
        {
            throw new DeviceException("vsock event queue: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean busy()
    {
        return transmitBlocked || handler.busy();
    }

    @Override
    public void addWakeFds(final IntConsumer sink)
    {
        handler.addWakeFds(sink);
    }

    @Override
    public void addWriteWakeFds(final IntConsumer sink)
    {
        handler.addWriteWakeFds(sink);
    }

    /**
     * Fills receive buffers with the handler's waiting packets.
     *
     * @return the packets delivered.
     * @throws DeviceException if the receive queue needs a reset.
     */
    public int poll() throws DeviceException
    {
        return queueNotify(VirtioVsock.RXQ);
    }

    private int transmit(final boolean signal)
    {
        final SplitQueue queue = queues[VirtioVsock.TXQ];
        transmitBlocked = false;
        final AvailIter iter = iter(queue);
        if (iter == null)
        {
            return 0;
        }
        int completed = 0;
        while (iter.next(chain))
        {
            final VsockParseError error = parser.fromTx(chain, MAX_PACKET_DATA, packet);
            if (error == null)
            {
                if (!handler.onTransmit(memory, packet))
                {
                    // Back-pressure: the chain stays in the ring and is offered again by poll().
                    iter.goToPreviousPosition();
                    transmitBlocked = true;
                    break;
                }
                packetsFromGuest++;
            }
            else
            {
                parseErrors[error.ordinal()]++;
                if (packet.headerRead())
                {
                    handler.onBadPacket(packet);
                }
            }
            queue.addUsed(memory, chain.headIndex(), 0);
            completed++;
        }
        if (signal)
        {
            signal(queue, VirtioVsock.TXQ, completed);
        }
        return completed;
    }

    private int receive(final boolean signal)
    {
        final SplitQueue queue = queues[VirtioVsock.RXQ];
        if (!handler.hasPacketForGuest())
        {
            return 0;
        }
        final AvailIter iter = iter(queue);
        if (iter == null)
        {
            return 0;
        }
        int completed = 0;
        while (handler.hasPacketForGuest() && iter.next(chain))
        {
            final VsockParseError error = parser.fromRx(chain, MAX_PACKET_DATA, packet);
            int used = 0;
            if (error == null)
            {
                final long data = handler.fillPacketForGuest(memory, packet);
                if (data < 0)
                {
                    // Nothing after all: the buffer stays the guest's for the next packet.
                    iter.goToPreviousPosition();
                    break;
                }
                packet.writeHeader(memory);
                used = (int)(VsockHeaderLayout.SIZE + data);
                packetsToGuest++;
            }
            else
            {
                parseErrors[error.ordinal()]++;
            }
            queue.addUsed(memory, chain.headIndex(), used);
            completed++;
        }
        if (signal)
        {
            signal(queue, VirtioVsock.RXQ, completed);
        }
        return completed;
    }

    private AvailIter iter(final SplitQueue queue)
    {
        return queue.iterIfReady(memory);
    }

    private void signal(final SplitQueue queue, final int index, final int completed)
    {
        if (completed > 0 && queue.needsNotification(memory))
        {
            interrupt.signalUsedBuffers(index);
        }
    }

    @Override
    public void reset()
    {
        memory = null;
        queues = null;
        interrupt = null;
    }

    @Override
    public void guestGone()
    {
        // The guest forgot its connections: so does the host side (host sockets closed, bridged state dropped).
        handler.transportReset();
    }

    private static final VsockParseError[] PARSE_ERRORS = VsockParseError.values();

    @Override
    public List<String> counterNames()
    {
        final List<String> names = new ArrayList<>(List.of("packets from guest", "packets to guest"));
        for (final VsockParseError error : PARSE_ERRORS)
        {
            names.add("errors: parse " + error.name().toLowerCase());
        }
        names.addAll(handler.counterNames());
        return names;
    }

    @Override
    public long counterValue(final int index)
    {
        if (index == 0)
        {
            return packetsFromGuest;
        }
        if (index == 1)
        {
            return packetsToGuest;
        }
        final int parse = index - 2;
        return parse < PARSE_ERRORS.length ? parseErrors[parse] : handler.counterValue(parse - PARSE_ERRORS.length);
    }

    /** @return the guest's context id. */
    public long guestCid()
    {
        return guestCid;
    }

    /** @return packets taken from the guest. */
    public long packetsFromGuest()
    {
        return packetsFromGuest;
    }

    /** @return packets delivered to the guest. */
    public long packetsToGuest()
    {
        return packetsToGuest;
    }

    /**
     * @param error a parse error.
     * @return how many chains failed to parse for it.
     */
    public long parseErrors(final VsockParseError error)
    {
        return parseErrors[error.ordinal()];
    }
}
