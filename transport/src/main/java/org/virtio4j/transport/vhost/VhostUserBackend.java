package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.engine.Engine;
import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;
import static org.virtio4j.transport.vhost.VhostUserMessage.F_PROTOCOL_FEATURES;

/**
 * The dispatcher of one vhost-user connection: decodes and checks each message, and applies it to the state it
 * concerns — negotiated features, the front-end's memory table ({@link FrontEndMemory}), each vring's
 * configuration ({@link Vring}), config space — and to the device running on the engine ({@link VhostUserRunner}).
 * Every change that affects a running device stops it (through its actor, draining requests in flight), applies the
 * change, and starts it again with the rings that are ready: the control thread never touches device state while
 * it runs.
 *
 * <p>Owned by the server thread that reads the connection.
 */
final class VhostUserBackend
{
    /** The virtio status bit of a driver that is ready. */
    private static final int DRIVER_OK = 4;

    private final String name;
    private final VirtioDevice device;
    private final int maxMemSlots;
    private final Vring[] vrings;
    private FrontEndMemory memory = new FrontEndMemory();
    private long ackedFeatures;
    private long protocolFeatures;
    private int status;
    private int backendReqFd = -1;
    private final VhostUserRunner runner;
    private final VhostUserInflight inflight;
    private final VhostUserDirtyLog dirtyLog;
    private int replyFd = -1;
    private final VhostUserCounters counters;

    VhostUserBackend(final String name, final VirtioDevice device, final Engine engine, final int maxMemSlots, final VhostUserCounters counters,
        final Runnable onDeviceFailure)
    {
        this.name = name;
        this.device = device;
        this.maxMemSlots = maxMemSlots;
        this.counters = counters;
        vrings = new Vring[device.queueMaxSizes().length];
        for (int i = 0; i < vrings.length; i++)
        {
            vrings[i] = new Vring();
        }
        inflight = new VhostUserInflight(vrings.length);
        dirtyLog = new VhostUserDirtyLog(counters);
        runner = new VhostUserRunner(name, device, engine, vrings, inflight, dirtyLog, counters, onDeviceFailure);
    }

    /**
     * @return the features offered to the front-end: the device's, the protocol-features extension, and dirty
     *         logging (every store the device makes into guest memory can be logged, so any device migrates).
     */
    long offeredFeatures()
    {
        return device.deviceFeatures() | VirtioFeatures.bit(F_PROTOCOL_FEATURES) | VirtioFeatures.bit(VhostUserMessage.F_LOG_ALL);
    }

    /** @return the protocol features offered. */
    static long offeredProtocolFeatures()
    {
        return VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_MQ) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_LOG_SHMFD) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_REPLY_ACK) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_BACKEND_REQ) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIG) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_RESET_DEVICE) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
            VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_INFLIGHT_SHMFD);
        // Not STATUS: QEMU 7.2 then sends SET_STATUS(0) before every VM stop (pause, snapshot, migration) and
        // expects GET_VRING_BASE to return the ring's position afterwards; without it, stops are ring stops only.
    }

    /** @return the fd to send with the reply just made (GET_INFLIGHT_FD), or -1; asked once per reply. */
    int takeReplyFd()
    {
        final int fd = replyFd;
        replyFd = -1;
        return fd;
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
                if (VirtioFeatures.has(features ^ ackedFeatures, VhostUserMessage.F_LOG_ALL))
                {
                    log("dirty logging " + (VirtioFeatures.has(features, VhostUserMessage.F_LOG_ALL) ? "on" : "off"));
                }
                ackedFeatures = features;
                if (runner.running())
                {
                    runner.restart(memory, ackedFeatures);
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
                Fds.close(backendReqFd);
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
                runner.stop();
                try
                {
                    counters.region(memory.add(payload.get(LE_U64, 8), payload.get(LE_U64, 16), payload.get(LE_U64, 24), payload.get(LE_U64, 32), fds.take()));
                }
                finally
                {
                    // Refused or not, the rings that were running run again.
                    runner.restart(memory, ackedFeatures);
                }
                return -1;
            }
            case VhostUserRequest.REM_MEM_REG ->
            {
                if (size != VhostUserMessage.SINGLE_REGION_SIZE || fds.count() > 1)
                {
                    throw new VhostUserException("REM_MEM_REG size=" + size + " fds=" + fds.count(), false);
                }
                runner.stop();
                final boolean removed = memory.remove(payload.get(LE_U64, 8), payload.get(LE_U64, 16), payload.get(LE_U64, 24));
                runner.restart(memory, ackedFeatures);
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
                runner.stop();
                vring.num = num;
                runner.restart(memory, ackedFeatures);
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
                runner.stop();
                vring.base = base;
                if (base != 0)
                {
                    log("vring " + payload.get(LE_U32, 0) + " resumes at avail index " + base);
                }
                runner.restart(memory, ackedFeatures);
                return -1;
            }
            case VhostUserRequest.GET_VRING_BASE ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final int index = payload.get(LE_U32, 0);
                final Vring vring = vring(index);
                // Every request in flight completes before the reply (QEMU 7.2 has disabled the ring just before,
                // which drained it already): the front-end resumes the ring, here or on a migration's destination,
                // from the index it gets, and reads the dirty log right after.
                runner.stop();
                vring.enabled = false;
                vring.kicked = false;
                Fds.close(vring.kick);
                vring.kick = null;
                runner.restart(memory, ackedFeatures);
                log("vring " + index + " stopped at avail index " + vring.base + ", requests in flight drained in " + runner.lastDrainNanos() / 1000 + " us");
                reply.set(LE_U32, 0, index);
                reply.set(LE_U32, 4, vring.base);
                return VhostUserMessage.VRING_STATE_SIZE;
            }
            case VhostUserRequest.SET_VRING_ADDR ->
            {
                expect(request, size, VhostUserMessage.VRING_ADDR_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                runner.stop();
                vring.descUser = payload.get(LE_U64, 8);
                vring.usedUser = payload.get(LE_U64, 16);
                vring.availUser = payload.get(LE_U64, 24);
                vring.logUsed = (payload.get(LE_U32, 4) & VhostUserMessage.VRING_F_LOG) != 0;
                vring.logAddr = payload.get(LE_U64, 32);
                vring.addressSet = true;
                runner.restart(memory, ackedFeatures);
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
                final Vring vring = vring((int)(value & VhostUserMessage.VRING_INDEX_MASK));
                final int fd = noFd ? -1 : fds.take();
                if (fd >= 0 && request != VhostUserRequest.SET_VRING_ERR && !Linux.isEventFd(fd))
                {
                    // A pipe or a socket could block the engine thread that reads kicks or writes calls.
                    final String what = Linux.describeFd(fd);
                    Fds.close(fd);
                    throw new VhostUserException(VhostUserRequest.name(request) + " with an fd that is not an eventfd (" + what + ")", false);
                }
                setVringFd(request, vring, fd);
                return -1;
            }
            case VhostUserRequest.SET_VRING_ENABLE ->
            {
                expect(request, size, VhostUserMessage.VRING_STATE_SIZE, fds, 0);
                final Vring vring = vring(payload.get(LE_U32, 0));
                final boolean enable = payload.get(LE_U32, 4) != 0;
                if (vring.enabled != enable)
                {
                    runner.stop();
                    vring.enabled = enable;
                    runner.restart(memory, ackedFeatures);
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
                if (length < 0 || length > VhostUserMessage.MAX_CONFIG_SIZE || size != VhostUserMessage.CONFIG_HEADER_SIZE + length ||
                    Integer.toUnsignedLong(offset) + length > VhostUserMessage.MAX_CONFIG_SIZE)
                {
                    throw new VhostUserException("GET_CONFIG size=" + size + " offset=" + Integer.toUnsignedString(offset) + " length=" + length +
                        ": the range must lie in the first " + VhostUserMessage.MAX_CONFIG_SIZE + " bytes of config space", false);
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
                if (length < 0 || length > VhostUserMessage.MAX_CONFIG_SIZE || size != VhostUserMessage.CONFIG_HEADER_SIZE + length ||
                    Integer.toUnsignedLong(offset) + length > VhostUserMessage.MAX_CONFIG_SIZE)
                {
                    throw new VhostUserException("SET_CONFIG size=" + size + " offset=" + Integer.toUnsignedString(offset) + " length=" + length +
                        ": the range must lie in the first " + VhostUserMessage.MAX_CONFIG_SIZE + " bytes of config space", false);
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
                    runner.stop();
                }
                else if ((newStatus & DRIVER_OK) != 0 && !runner.running())
                {
                    // The VM runs again (cont): the rings that are ready start where they stopped.
                    runner.restart(memory, ackedFeatures);
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
            case VhostUserRequest.GET_INFLIGHT_FD ->
            {
                expect(request, size, VhostUserMessage.INFLIGHT_SIZE, fds, 0);
                replyFd = inflight.get(payload, reply);
                return VhostUserMessage.INFLIGHT_SIZE;
            }
            case VhostUserRequest.SET_INFLIGHT_FD ->
            {
                expect(request, size, VhostUserMessage.INFLIGHT_SIZE, fds, 1);
                runner.stop();
                try
                {
                    inflight.set(payload, fds.take());
                }
                finally
                {
                    runner.restart(memory, ackedFeatures);
                }
                log("inflight region of " + Short.toUnsignedInt(payload.get(org.virtio4j.memory.GuestMemory.LE_U16, 16)) + " queues of " +
                    Short.toUnsignedInt(payload.get(org.virtio4j.memory.GuestMemory.LE_U16, 18)) + " entries mapped");
                return -1;
            }
            case VhostUserRequest.SET_LOG_BASE ->
            {
                expect(request, size, VhostUserMessage.LOG_SIZE, fds, 1);
                if (!VirtioFeatures.has(protocolFeatures, VhostUserMessage.PROTOCOL_F_LOG_SHMFD))
                {
                    throw new VhostUserException("SET_LOG_BASE without the LOG_SHMFD protocol feature", false);
                }
                // The device stops across the switch: no store is made between the old log and the new one.
                runner.stop();
                try
                {
                    dirtyLog.set(payload, fds.take());
                }
                finally
                {
                    runner.restart(memory, ackedFeatures);
                }
                log("dirty log of " + payload.get(LE_U64, 0) + " bytes mapped: stores into guest memory are logged while VHOST_F_LOG_ALL is on");
                // With LOG_SHMFD the front-end waits for a reply whatever the flags say; it reads no payload.
                reply.set(LE_U64, 0, 0);
                return 8;
            }
            case VhostUserRequest.SET_LOG_FD ->
            {
                // A log-kick eventfd: QEMU sends none, and the log needs no kick to be read. Accepted and closed.
                expect(request, size, 0, fds, 1);
                return -1;
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
        runner.stop();
        final FrontEndMemory table = new FrontEndMemory();
        try
        {
            for (int i = 0; i < count; i++)
            {
                final long at = 8 + (long)i * VhostUserMessage.MEM_REGION_SIZE;
                counters.region(table.add(payload.get(LE_U64, at), payload.get(LE_U64, at + 8), payload.get(LE_U64, at + 16), payload.get(LE_U64, at + 24), fds.take()));
            }
        }
        catch (final VhostUserException e)
        {
            table.close();
            runner.restart(memory, ackedFeatures);
            throw e;
        }
        memory.close();
        memory = table;
        runner.restart(memory, ackedFeatures);
        return -1;
    }

    private void setVringFd(final int request, final Vring vring, final int fd)
    {
        switch (request)
        {
            case VhostUserRequest.SET_VRING_KICK ->
            {
                runner.stop();
                Fds.close(vring.kick);
                vring.kick = fd >= 0 ? EventFd.wrap(nonBlocking(fd), true) : null;
                // A ring starts when it gets its kick; with NOFD the back-end polls it.
                vring.kicked = true;
                runner.restart(memory, ackedFeatures);
            }
            case VhostUserRequest.SET_VRING_CALL ->
            {
                runner.stop();
                Fds.close(vring.call);
                vring.call = fd >= 0 ? EventFd.wrap(fd, true) : null;
                runner.restart(memory, ackedFeatures);
            }
            default ->
            {
                Fds.close(vring.errFd);
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

    /** Resets the device and the ring state; memory and fds stay. */
    private void resetDevice()
    {
        runner.reset();
        for (final Vring vring : vrings)
        {
            vring.forget();
        }
        // A reset guest starts with a fresh region (QEMU asks for one); the old one must not be recovered into it.
        inflight.close();
        status = 0;
    }

    /** The front-end went away: stop the device, release every fd and mapping, forget the negotiation. */
    void disconnect()
    {
        resetDevice();
        for (final Vring vring : vrings)
        {
            vring.closeFds();
        }
        Fds.close(backendReqFd);
        backendReqFd = -1;
        inflight.close();
        dirtyLog.close();
        memory.close();
        memory = new FrontEndMemory();
        ackedFeatures = 0;
        protocolFeatures = 0;
    }

    /** @return true while the device runs on the engine. */
    boolean running()
    {
        return runner.running();
    }

    private void log(final String message)
    {
        counters.log("virtio4j vhost-user " + name + ": " + message);
    }
}
