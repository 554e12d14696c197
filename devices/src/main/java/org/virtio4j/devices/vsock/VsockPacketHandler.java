package org.virtio4j.devices.vsock;

import java.util.List;
import java.util.function.IntConsumer;

import org.virtio4j.memory.GuestMemory;

/**
 * What a vsock device does with packets: the layer above the packet parser (a connection table, a bridge, a
 * test). Called on the device's thread.
 */
public interface VsockPacketHandler
{
    /**
     * The guest sent a packet. Its header is a copy; its data is still in guest memory and must be consumed now.
     *
     * @param memory the guest's memory.
     * @param packet the packet (valid only during the call).
     * @return false if the packet cannot be taken now (a back-pressured bridge): the device leaves its chain in the
     *         ring and offers it again later, so nothing is dropped.
     */
    boolean onTransmit(GuestMemory memory, VsockPacket packet);

    /**
     * The guest sent a packet whose header parsed but whose data did not (outside memory, a descriptor too short):
     * the stream would have a gap, so its connection should be reset.
     *
     * @param packet the packet's header copy.
     */
    default void onBadPacket(final VsockPacket packet)
    {
    }

    /** @return true if a packet for the guest is waiting. */
    boolean hasPacketForGuest();

    /**
     * Fills a guest receive buffer: set the header copy with {@link VsockPacket#header} and write at most
     * {@link VsockPacket#dataLen()} bytes of data at {@link VsockPacket#dataAddr()}. The device then writes the
     * header to guest memory.
     *
     * @param memory the guest's memory.
     * @param packet the receive buffer (header zeroed).
     * @return the data bytes written (the header's len), or -1 if no packet was waiting after all.
     */
    long fillPacketForGuest(GuestMemory memory, VsockPacket packet);

    /**
     * Outside work (host sockets): called every duty cycle by the device's owner.
     *
     * @return the work done.
     */
    default int pollHost()
    {
        return 0;
    }

    /** The transport was reset: every connection is gone (the guest is told with TRANSPORT_RESET). */
    default void transportReset()
    {
    }

    /** @return true if there is work no descriptor will announce. */
    default boolean busy()
    {
        return false;
    }

    /** @param sink given each descriptor whose readability means {@link #pollHost()} has work. */
    default void addWakeFds(final IntConsumer sink)
    {
    }

    /** @param sink given each descriptor whose room to write means {@link #pollHost()} has work. */
    default void addWriteWakeFds(final IntConsumer sink)
    {
    }

    /** @return the labels of the handler's own counters (none by default). */
    default List<String> counterNames()
    {
        return List.of();
    }

    /**
     * @param index an index into {@link #counterNames()}.
     * @return that counter's value.
     */
    default long counterValue(final int index)
    {
        return 0;
    }
}
