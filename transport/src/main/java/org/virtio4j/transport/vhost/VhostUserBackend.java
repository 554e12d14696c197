package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.engine.DeviceHandle;
import org.virtio4j.engine.Engine;
import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.virtio.AvailRingLayout;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.UsedRingLayout;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;
import static org.virtio4j.transport.vhost.VhostUserMessage.F_PROTOCOL_FEATURES;

/**
 * One vhost-user device's back-end state for the connection being served: negotiated features, the front-end's
 * memory, each vring's configuration and fds, and the device running on the engine. Every change that affects a
 * running device stops it (through its actor, draining requests in flight), applies the change, and starts it
 * again with the rings that are ready: the control thread never touches device state while it runs.
 *
 * <p>Owned by the server thread that reads the connection.
 */
final class VhostUserBackend
{
    private static final long STOP_TIMEOUT_SECONDS = 30;

    /** One vring's configuration, as the front-end set it. */
    private static final class Vring
    {
        int num;
        int base;
        boolean addressSet;
        long descUser;
        long usedUser;
        long availUser;
        EventFd kick;
        EventFd call;
        int errFd = -1;
        boolean enabled;
        boolean kicked;
    }

    private final String name;
    private final VirtioDevice device;
    private final Engine engine;
    private final int maxMemSlots;
    private final Vring[] vrings;
    private final VhostUserCounters counters;
    private FrontEndMemory memory = new FrontEndMemory();
    private long ackedFeatures;
    private long protocolFeatures;
    private int status;
    private int backendReqFd = -1;
    private DeviceHandle running;
    private SplitQueue[] runningQueues;

    VhostUserBackend(final String name, final VirtioDevice device, final Engine engine, final int maxMemSlots, final VhostUserCounters counters)
    {
        this.name = name;
        this.device = device;
        this.engine = engine;
        this.maxMemSlots = maxMemSlots;
        this.counters = counters;
        vrings = new Vring[device.queueMaxSizes().length];
        for (int i = 0; i < vrings.length; i++)
        {
            vrings[i] = new Vring();
        }
    }

    /** @return the features offered to the front-end: the device's, plus the protocol-features extension. */
    long offeredFeatures()
    {
        return device.deviceFeatures() | VirtioFeatures.bit(F_PROTOCOL_FEATURES);
    }

    /** @return the protocol features offered. */
    static long offeredProtocolFeatures()
    {
        return VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_MQ) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_REPLY_ACK) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_BACKEND_REQ) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIG) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_RESET_DEVICE) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIGURE_MEM_SLOTS);
        // Not STATUS: QEMU 7.2 then sends SET_STATUS(0) before every VM stop (pause, snapshot, migration) and
        // expects GET_VRING_BASE to return the ring's position afterwards; without it, stops are ring stops only.
    }

    boolean replyAckNegotiated()
    {
        return VirtioFeatures.has(protocolFeatures, VhostUserMessage.PROTOCOL_F_REPLY_ACK);
    }

    /**
     * Handles one request.
     *
     * @param request the request code.
     * @param payload the payload (read-only here).
     * @param size    its size.
     * @param fds     the descriptors that came with it; this method owns them (keeps or closes each).
     * @param fdCount how many.
     * @param reply   where to write a reply payload.
     * @return the reply payload size, or -1 if the request has no reply of its own.
     * @throws VhostUserException if the request is refused.
     */
    int handle(final int request, final MemorySegment payload, final int size, final int[] fds, final int fdCount, final MemorySegment reply)
        throws VhostUserException
    {
        final FdTaker taker = new FdTaker(fds, fdCount);
        try
        {
            return dispatch(request, payload, size, taker, reply);
        }
        finally
        {
            taker.closeRest();
        }
    }

    private int dispatch(final int request, final MemorySegment payload, final int size, final FdTaker fds, final MemorySegment reply)
        throws VhostUserException
    {
        switch (request)
        {
            case VhostUserRequest.GET_FEATURES ->
            {
                expect(request, size, 0, fds, 0);
                reply.set(LE_U64, 0, offeredFeatures());
                return 8;
            }
            case VhostUserRequest.SET_FEATURES ->
            {
                expect(request, size, 8, fds, 0);
                final long features = payload.get(LE_U64, 0);
                if ((features & ~offeredFeatures()) != 0)
                {
                    throw new VhostUserException("SET_FEATURES with features not offered: 0x" + Long.toHexString(features & ~offeredFeatures()), false);
                }
                ackedFeatures = features;
                if (running != null)
                {
                    reconfigure();
                }
                return -1;
            }
            case VhostUserRequest.GET_PROTOCOL_FEATURES ->
            {
                expect(request, size, 0, fds, 0);
                reply.set(LE_U64, 0, offeredProtocolFeatures());
                return 8;
            }
            case VhostUserRequest.SET_PROTOCOL_FEATURES ->
            {
                expect(request, size, 8, fds, 0);
                final long features = payload.get(LE_U64, 0);
                if ((features & ~offeredProtocolFeatures()) != 0)
                {
                    throw new VhostUserException("SET_PROTOCOL_FEATURES with features not offered: 0x" +
                        Long.toHexString(features & ~offeredProtocolFeatures()), false);
                }
                protocolFeatures = features;
                return -1;
            }
            case VhostUserRequest.SET_OWNER, VhostUserRequest.RESET_OWNER ->
            {
                expect(request, size, 0, fds, 0);
                if (request == VhostUserRequest.RESET_OWNER)
                {
                    resetDevice();
                }
                return -1;
            }
            case VhostUserRequest.GET_QUEUE_NUM ->
            {
                expect(request, size, 0, fds, 0);
                reply.set(LE_U64, 0, vrings.length);
                return 8;
            }
            case VhostUserRequest.GET_MAX_MEM_SLOTS ->
            {
                expect(request, size, 0, fds, 0);
                reply.set(LE_U64, 0, maxMemSlots);
                return 8;
            }
            case VhostUserRequest.SET_BACKEND_REQ_FD ->
            {
                expect(request, size, 0, fds, 1);
                closeFd(backendReqFd);
                backendReqFd = fds.take();
                return -1;
            }
            case VhostUserRequest.SET_MEM_TABLE ->
            {
                return setMemTable(payload, size, fds);
            }
            case VhostUserRequest.ADD_MEM_REG ->
            {
                expect(request, size, VhostUserMessage.SINGLE_REGION_SIZE, fds, 1);
                if (memory.regionCount() >= maxMemSlots)
                {
                    throw new VhostUserException("ADD_MEM_REG beyond " + maxMemSlots + " memory slots", false);
                }
                stopDevice();
                memory.add(payload.get(LE_U64, 8), payload.get(LE_U64, 16), payload.get(LE_U64, 24), payload.get(LE_U64, 32), fds.take());
                reconfigure();
                return -1;
            }
            case VhostUserRequest.REM_MEM_REG ->
            {
                if (size != VhostUserMessage.SINGLE_REGION_SIZE || fds.count() > 1)
                {
                    throw new VhostUserException("REM_MEM_REG size=" + size + " fds=" + fds.count(), false);
                }
                stopDevice();
                final boolean removed = memory.remove(payload.get(LE_U64, 8), payload.get(LE_U64, 16), payload.get(LE_U64, 24));
                reconfigure();
                if (!removed)
                {
                    throw new VhostUserException("REM_MEM_REG of a region that is not mapped: gpa=" + GuestAddress.hex(payload.get(LE_U64, 8)), false);
                }
                return -1;
            }
            case VhostUserRequest.SET_VRING_NUM ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                final int num = payload.get(LE_U32, 4);
                // The front-end chooses the size (QEMU's queue-size=, up to 1024; the spec allows 32768): in-flight
                // state is sized by it when the device activates.
                final int max = SplitQueue.MAX_QUEUE_SIZE;
                if (num <= 0 || num > max || Integer.bitCount(num) != 1)
                {
                    throw new VhostUserException("SET_VRING_NUM num=" + num + " must be a power of two up to " + max, false);
                }
                stopDevice();
                vring.num = num;
                reconfigure();
                return -1;
            }
            case VhostUserRequest.SET_VRING_BASE ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                final int base = payload.get(LE_U32, 4);
                if ((base & ~0xffff) != 0)
                {
                    throw new VhostUserException("SET_VRING_BASE base=" + Integer.toUnsignedString(base) + " is not a 16-bit index", false);
                }
                stopDevice();
                vring.base = base;
                reconfigure();
                return -1;
            }
            case VhostUserRequest.GET_VRING_BASE ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final int index = payload.get(LE_U32, 0);
                final Vring vring = vring(index);
                stopDevice();
                vring.enabled = false;
                vring.kicked = false;
                closeEventFd(vring.kick);
                vring.kick = null;
                reconfigure();
                reply.set(LE_U32, 0, index);
                reply.set(LE_U32, 4, vring.base);
                return VhostUserMessage.VRING_STATE_SIZE;
            }
            case VhostUserRequest.SET_VRING_ADDR ->
            {
                expect(request, size, VhostUserMessage.VRING_ADDR_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                stopDevice();
                vring.descUser = payload.get(LE_U64, 8);
                vring.usedUser = payload.get(LE_U64, 16);
                vring.availUser = payload.get(LE_U64, 24);
                vring.addressSet = true;
                reconfigure();
                return -1;
            }
            case VhostUserRequest.SET_VRING_KICK, VhostUserRequest.SET_VRING_CALL, VhostUserRequest.SET_VRING_ERR ->
            {
                if (size != VhostUserMessage.U64_SIZE)
                {
                    throw new VhostUserException(VhostUserRequest.name(request) + " size=" + size + ", expected 8", false);
                }
                final long value = payload.get(LE_U64, 0);
                final boolean noFd = (value & VhostUserMessage.VRING_NOFD) != 0;
                if (fds.count() != (noFd ? 0 : 1))
                {
                    throw new VhostUserException(VhostUserRequest.name(request) + " with " + fds.count() + " fds, expected " + (noFd ? 0 : 1), false);
                }
                setVringFd(request, vring((int)(value & VhostUserMessage.VRING_INDEX_MASK)), noFd ? -1 : fds.take());
                return -1;
            }
            case VhostUserRequest.SET_VRING_ENABLE ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                final boolean enable = payload.get(LE_U32, 4) != 0;
                if (vring.enabled != enable)
                {
                    stopDevice();
                    vring.enabled = enable;
                    reconfigure();
                }
                return -1;
            }
            case VhostUserRequest.GET_CONFIG ->
            {
                if (size < VhostUserMessage.CONFIG_HEADER_SIZE || fds.count() != 0)
                {
                    throw new VhostUserException("GET_CONFIG size=" + size, false);
                }
                final int offset = payload.get(LE_U32, 0);
                final int length = payload.get(LE_U32, 4);
                if (length < 0 || length > VhostUserMessage.MAX_CONFIG_SIZE || size != VhostUserMessage.CONFIG_HEADER_SIZE + length)
                {
                    throw new VhostUserException("GET_CONFIG size=" + size + " length=" + length, false);
                }
                final byte[] data = new byte[length];
                device.readConfig(offset, data);
                reply.set(LE_U32, 0, offset);
                reply.set(LE_U32, 4, length);
                reply.set(LE_U32, 8, payload.get(LE_U32, 8));
                MemorySegment.copy(MemorySegment.ofArray(data), 0, reply, VhostUserMessage.CONFIG_HEADER_SIZE, length);
                return VhostUserMessage.CONFIG_HEADER_SIZE + length;
            }
            case VhostUserRequest.SET_CONFIG ->
            {
                if (size < VhostUserMessage.CONFIG_HEADER_SIZE || fds.count() != 0)
                {
                    throw new VhostUserException("SET_CONFIG size=" + size, false);
                }
                final int offset = payload.get(LE_U32, 0);
                final int length = payload.get(LE_U32, 4);
                if (length < 0 || length > VhostUserMessage.MAX_CONFIG_SIZE || size != VhostUserMessage.CONFIG_HEADER_SIZE + length)
                {
                    throw new VhostUserException("SET_CONFIG size=" + size + " length=" + length, false);
                }
                device.writeConfig(offset, payload.asSlice(VhostUserMessage.CONFIG_HEADER_SIZE, length).toArray(ValueLayout.JAVA_BYTE));
                return -1;
            }
            case VhostUserRequest.SET_STATUS ->
            {
                expect(request, size, 8, fds, 0);
                final int newStatus = (int)(payload.get(LE_U64, 0) & 0xff);
                if (newStatus == 0)
                {
                    // A front-end stopping the VM, not resetting the guest: drain and stop, keep each ring's
                    // position for GET_VRING_BASE. A real reset restarts the rings with SET_VRING_BASE anyway.
                    stopDevice();
                }
                status = newStatus;
                return -1;
            }
            case VhostUserRequest.GET_STATUS ->
            {
                expect(request, size, 0, fds, 0);
                reply.set(LE_U64, 0, status);
                return 8;
            }
            case VhostUserRequest.RESET_DEVICE ->
            {
                expect(request, size, 0, fds, 0);
                resetDevice();
                return -1;
            }
            default -> throw new VhostUserException("unsupported request " + VhostUserRequest.name(request) + " size=" + size, false);
        }
    }

    private int setMemTable(final MemorySegment payload, final int size, final FdTaker fds) throws VhostUserException
    {
        if (size < 8)
        {
            throw new VhostUserException("SET_MEM_TABLE size=" + size, false);
        }
        final int count = payload.get(LE_U32, 0);
        if (count < 1 || count > VhostUserMessage.MAX_TABLE_REGIONS || size != 8 + count * VhostUserMessage.MEM_REGION_SIZE || fds.count() != count)
        {
            throw new VhostUserException("SET_MEM_TABLE regions=" + count + " size=" + size + " fds=" + fds.count(), false);
        }
        stopDevice();
        final FrontEndMemory table = new FrontEndMemory();
        try
        {
            for (int i = 0; i < count; i++)
            {
                final long at = 8 + (long)i * VhostUserMessage.MEM_REGION_SIZE;
                table.add(payload.get(LE_U64, at), payload.get(LE_U64, at + 8), payload.get(LE_U64, at + 16), payload.get(LE_U64, at + 24), fds.take());
            }
        }
        catch (final VhostUserException e)
        {
            table.close();
            reconfigure();
            throw e;
        }
        memory.close();
        memory = table;
        reconfigure();
        return -1;
    }

    private void setVringFd(final int request, final Vring vring, final int fd)
    {
        switch (request)
        {
            case VhostUserRequest.SET_VRING_KICK ->
            {
                stopDevice();
                closeEventFd(vring.kick);
                vring.kick = fd >= 0 ? EventFd.wrap(nonBlocking(fd), true) : null;
                // A ring starts when it gets its kick; with NOFD the back-end polls it.
                vring.kicked = true;
                reconfigure();
            }
            case VhostUserRequest.SET_VRING_CALL ->
            {
                stopDevice();
                closeEventFd(vring.call);
                vring.call = fd >= 0 ? EventFd.wrap(fd, true) : null;
                reconfigure();
            }
            default ->
            {
                closeFd(vring.errFd);
                vring.errFd = fd;
            }
        }
    }

    /** The poller drains kicks without waiting: a blocking fd from the front-end is made non-blocking. */
    private int nonBlocking(final int fd)
    {
        try
        {
            Linux.setNonBlocking(fd);
        }
        catch (final ErrnoException e)
        {
            log("kick fd " + fd + " cannot be made non-blocking: " + e.getMessage());
        }
        return fd;
    }

    private Vring vring(final int index) throws VhostUserException
    {
        if (index < 0 || index >= vrings.length)
        {
            throw new VhostUserException("vring index=" + index + ", the device has " + vrings.length, false);
        }
        return vrings[index];
    }

    private static void expect(final int request, final int size, final int expectedSize, final FdTaker fds, final int expectedFds)
        throws VhostUserException
    {
        if (size != expectedSize || fds.count() != expectedFds)
        {
            throw new VhostUserException(VhostUserRequest.name(request) + " size=" + size + " fds=" + fds.count() +
                ", expected size=" + expectedSize + " fds=" + expectedFds, false);
        }
    }

    private boolean protocolFeaturesNegotiated()
    {
        return VirtioFeatures.has(ackedFeatures, F_PROTOCOL_FEATURES);
    }

    private boolean ready(final Vring vring)
    {
        return vring.num > 0 && vring.addressSet && vring.kicked && (vring.enabled || !protocolFeaturesNegotiated());
    }

    /** Stops the device if it runs, then starts it with the rings that are ready. */
    private void reconfigure()
    {
        stopDevice();
        final GuestMemory guestMemory = memory.guestMemory();
        if (guestMemory == null)
        {
            return;
        }
        boolean any = false;
        for (final Vring vring : vrings)
        {
            any |= ready(vring);
        }
        if (!any)
        {
            return;
        }
        final SplitQueue[] queues = new SplitQueue[vrings.length];
        final EventFd[] kicks = new EventFd[vrings.length];
        final EventFd[] calls = new EventFd[vrings.length];
        final boolean eventIdx = VirtioFeatures.has(ackedFeatures, VirtioFeatures.RING_EVENT_IDX);
        for (int i = 0; i < vrings.length; i++)
        {
            final Vring vring = vrings[i];
            final SplitQueue queue = new SplitQueue(SplitQueue.MAX_QUEUE_SIZE);
            queues[i] = queue;
            if (!ready(vring))
            {
                continue;
            }
            try
            {
                configure(queue, vring, guestMemory, eventIdx);
                kicks[i] = vring.kick;
                calls[i] = vring.call;
            }
            catch (final VhostUserException | QueueException e)
            {
                counters.badRing();
                log("vring " + i + " not started: " + e.getMessage());
                queue.reset();
            }
        }
        try
        {
            device.reset();
            device.activate(guestMemory, queues, ackedFeatures & ~VirtioFeatures.bit(F_PROTOCOL_FEATURES), new Interrupt()
            {
                @Override
                public void signalUsedBuffers(final int queue)
                {
                    if (calls[queue] != null)
                    {
                        calls[queue].signal();
                    }
                }

                @Override
                public void signalConfigChange()
                {
                }
            });
        }
        catch (final DeviceException e)
        {
            counters.deviceError();
            log("device not started: " + e.getMessage());
            return;
        }
        final DeviceHandle handle = engine.attach(name, device, guestMemory, queues, kicks, calls);
        handle.onError(e ->
        {
            counters.deviceError();
            log("device failed, it needs a reset: " + e.getMessage());
        });
        handle.start().orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        running = handle;
        runningQueues = queues;
    }

    private void configure(final SplitQueue queue, final Vring vring, final GuestMemory guestMemory, final boolean eventIdx)
        throws VhostUserException
    {
        final long desc = translate("descriptor table", vring.descUser, (long)DescriptorLayout.SIZE * vring.num);
        final long avail = translate("available ring", vring.availUser, AvailRingLayout.byteSize(vring.num));
        final long used = translate("used ring", vring.usedUser, UsedRingLayout.byteSize(vring.num));
        queue.trySetSize(vring.num);
        queue.trySetDescTableAddress(desc);
        queue.trySetAvailRingAddress(avail);
        queue.trySetUsedRingAddress(used);
        queue.setEventIdx(eventIdx);
        queue.setNextAvail(vring.base);
        queue.setReady(true);
        // The used index continues where the ring's memory says it is.
        queue.setNextUsed(queue.usedIdxAcquire(guestMemory));
        if (!queue.isValid(guestMemory))
        {
            throw new VhostUserException("ring outside mapped memory", false);
        }
    }

    private long translate(final String what, final long userAddr, final long length) throws VhostUserException
    {
        final long gpa = memory.toGuestPhysical(userAddr, length);
        if (gpa == -1)
        {
            throw new VhostUserException(what + " at front-end address " + GuestAddress.hex(userAddr) + " (+" + length +
                " bytes) is not in mapped memory", false);
        }
        return gpa;
    }

    /** Stops the device through its actor (draining requests in flight) and records each ring's position. */
    private void stopDevice()
    {
        final DeviceHandle handle = running;
        if (handle == null)
        {
            return;
        }
        running = null;
        try
        {
            handle.stop().orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        }
        finally
        {
            // Eventfds and mappings are released only once no engine thread can touch the device.
            engine.detach(handle).orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        }
        for (int i = 0; i < vrings.length; i++)
        {
            if (runningQueues[i].ready())
            {
                vrings[i].base = runningQueues[i].nextAvail();
            }
        }
        runningQueues = null;
    }

    /** Resets the device and the ring state; memory and fds stay. */
    private void resetDevice()
    {
        stopDevice();
        device.reset();
        device.guestGone();
        for (final Vring vring : vrings)
        {
            vring.base = 0;
            vring.enabled = false;
            vring.kicked = false;
            vring.addressSet = false;
            vring.num = 0;
        }
        status = 0;
    }

    /** The front-end went away: stop the device, release every fd and mapping, forget the negotiation. */
    void disconnect()
    {
        resetDevice();
        for (final Vring vring : vrings)
        {
            closeEventFd(vring.kick);
            closeEventFd(vring.call);
            closeFd(vring.errFd);
            vring.kick = null;
            vring.call = null;
            vring.errFd = -1;
        }
        closeFd(backendReqFd);
        backendReqFd = -1;
        memory.close();
        memory = new FrontEndMemory();
        ackedFeatures = 0;
        protocolFeatures = 0;
    }

    /** @return true while the device runs on the engine. */
    boolean running()
    {
        return running != null;
    }

    private void log(final String message)
    {
        System.err.println("virtio4j vhost-user " + name + ": " + message);
    }

    private static void closeEventFd(final EventFd eventFd)
    {
        if (eventFd != null)
        {
            try
            {
                eventFd.close();
            }
            catch (final ErrnoException e)
            {
                // Already closed by its peer's exit: nothing to release.
            }
        }
    }

    private static void closeFd(final int fd)
    {
        if (fd >= 0)
        {
            try
            {
                Linux.close(fd);
            }
            catch (final ErrnoException e)
            {
                // Already closed.
            }
        }
    }

    /** Hands out the fds of a message one by one; the ones not taken are closed. */
    private static final class FdTaker
    {
        private final int[] fds;
        private final int count;
        private int taken;

        FdTaker(final int[] fds, final int count)
        {
            this.fds = fds;
            this.count = count;
        }

        int count()
        {
            return count;
        }

        int take()
        {
            return fds[taken++];
        }

        void closeRest()
        {
            while (taken < count)
            {
                closeFd(fds[taken++]);
            }
        }
    }
}
