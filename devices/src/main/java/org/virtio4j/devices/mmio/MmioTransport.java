package org.virtio4j.devices.mmio;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.DeviceState;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.virtio.DeviceStatus;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioMmio;

import static org.virtio4j.memory.GuestMemory.LE_U32;

/**
 * The virtio-mmio version 2 register model (virtio 1.2 section 4.2.2) over a {@link DeviceState}: what a VMM
 * calls for each guest load or store in the device's MMIO window.
 *
 * <p>Registers 0x000-0x0ff take 4-byte accesses only; config space from 0x100 takes any width. Nothing a guest
 * does throws out of this model: an access of the wrong width or to an unknown register is counted and leaves
 * {@code data} untouched; a write the current status does not allow is counted and ignored (as vm-virtio does).
 * It also implements {@link Interrupt}: signals set interrupt status bits and call the VMM's interrupt line.
 *
 * <p>Not thread-safe: the VMM serialises accesses to one device's window.
 */
public final class MmioTransport implements Interrupt
{
    /** The MMIO window size: registers and config space. */
    public static final int WINDOW_SIZE = 0x1000;
    private static final int REGISTER_WIDTH = 4;

    private final DeviceState state;
    private final Runnable interruptLine;
    private long ignoredWrites;
    private long badAccesses;
    private long deviceErrors;

    /**
     * @param state         the device and its negotiation state; its memory is attached by the caller.
     * @param interruptLine raised (called) whenever an interrupt status bit is set.
     */
    public MmioTransport(final DeviceState state, final Runnable interruptLine)
    {
        this.state = state;
        this.interruptLine = interruptLine;
    }

    /**
     * A guest load.
     *
     * @param offset the offset in the window.
     * @param data   filled with the value, little-endian; untouched for a bad access.
     */
    public void read(final long offset, final byte[] data)
    {
        if (offset >= VirtioMmio.CONFIG && offset < WINDOW_SIZE)
        {
            state.device().readConfig((int)(offset - VirtioMmio.CONFIG), data);
            return;
        }
        if (offset < 0 || offset >= VirtioMmio.CONFIG || data.length != REGISTER_WIDTH)
        {
            badAccesses++;
            return;
        }
        final int value;
        switch ((int)offset)
        {
            case VirtioMmio.MAGIC_VALUE -> value = VirtioMmio.MAGIC;
            case VirtioMmio.VERSION_REG -> value = VirtioMmio.VERSION;
            case VirtioMmio.DEVICE_ID -> value = state.device().deviceType();
            case VirtioMmio.VENDOR_ID -> value = 0;
            case VirtioMmio.DEVICE_FEATURES -> value = featuresPage(state.deviceFeatures(), state.deviceFeaturesSelect());
            case VirtioMmio.QUEUE_NUM_MAX ->
            {
                final SplitQueue queue = state.selectedQueue();
                value = queue == null ? 0 : queue.maxSize();
            }
            case VirtioMmio.QUEUE_READY ->
            {
                final SplitQueue queue = state.selectedQueue();
                value = queue != null && queue.ready() ? 1 : 0;
            }
            case VirtioMmio.INTERRUPT_STATUS -> value = state.interruptStatus().get();
            case VirtioMmio.STATUS -> value = state.status();
            case VirtioMmio.CONFIG_GENERATION -> value = state.configGeneration();
            default ->
            {
                badAccesses++;
                return;
            }
        }
        MemorySegment.ofArray(data).set(LE_U32, 0, value);
    }

    private static int featuresPage(final long features, final int page)
    {
        return switch (page)
        {
            case 0 -> (int)features;
            case 1 -> (int)(features >>> 32);
            default -> 0;
        };
    }

    /**
     * A guest store.
     *
     * @param offset the offset in the window.
     * @param data   the value, little-endian.
     */
    public void write(final long offset, final byte[] data)
    {
        if (offset >= VirtioMmio.CONFIG && offset < WINDOW_SIZE)
        {
            if (state.checkStatus(DeviceStatus.DRIVER, DeviceStatus.FAILED))
            {
                state.device().writeConfig((int)(offset - VirtioMmio.CONFIG), data);
            }
            else
            {
                ignoredWrites++;
            }
            return;
        }
        if (offset < 0 || offset >= VirtioMmio.CONFIG || data.length != REGISTER_WIDTH)
        {
            badAccesses++;
            return;
        }
        final int value = MemorySegment.ofArray(data).get(LE_U32, 0);
        switch ((int)offset)
        {
            case VirtioMmio.DEVICE_FEATURES_SEL -> state.setDeviceFeaturesSelect(value);
            case VirtioMmio.DRIVER_FEATURES_SEL -> state.setDriverFeaturesSelect(value);
            case VirtioMmio.DRIVER_FEATURES ->
            {
                if (state.checkStatus(DeviceStatus.DRIVER, DeviceStatus.FEATURES_OK | DeviceStatus.FAILED))
                {
                    state.setDriverFeatures(state.driverFeaturesSelect(), value);
                }
                else
                {
                    ignoredWrites++;
                }
            }
            case VirtioMmio.QUEUE_SEL -> state.setQueueSelect(value);
            case VirtioMmio.QUEUE_NUM, VirtioMmio.QUEUE_READY,
                 VirtioMmio.QUEUE_DESC_LOW, VirtioMmio.QUEUE_DESC_HIGH,
                 VirtioMmio.QUEUE_AVAIL_LOW, VirtioMmio.QUEUE_AVAIL_HIGH,
                 VirtioMmio.QUEUE_USED_LOW, VirtioMmio.QUEUE_USED_HIGH -> writeQueueRegister((int)offset, value);
            case VirtioMmio.QUEUE_NOTIFY -> notifyQueue(value);
            case VirtioMmio.INTERRUPT_ACK ->
            {
                if (state.checkStatus(DeviceStatus.DRIVER_OK, 0))
                {
                    acknowledge(value);
                }
                else
                {
                    ignoredWrites++;
                }
            }
            case VirtioMmio.STATUS ->
            {
                if (!state.writeStatus(value))
                {
                    ignoredWrites++;
                }
            }
            default -> badAccesses++;
        }
    }

    /** Clears the acknowledged interrupt bits (a CAS loop: no capturing lambda per interrupt). */
    private void acknowledge(final int acknowledged)
    {
        final AtomicInteger status = state.interruptStatus();
        int bits;
        do
        {
            bits = status.get();
        }
        while (!status.compareAndSet(bits, bits & ~acknowledged));
    }

    private void writeQueueRegister(final int offset, final int value)
    {
        final SplitQueue queue = state.selectedQueue();
        if (queue == null || !state.checkStatus(DeviceStatus.FEATURES_OK, DeviceStatus.DRIVER_OK | DeviceStatus.FAILED))
        {
            ignoredWrites++;
            return;
        }
        final boolean taken = switch (offset)
        {
            case VirtioMmio.QUEUE_NUM -> queue.setSize(value & 0xffff);
            case VirtioMmio.QUEUE_READY ->
            {
                queue.setReady(value == 1);
                yield true;
            }
            case VirtioMmio.QUEUE_DESC_LOW -> queue.setDescTableAddress(value, null);
            case VirtioMmio.QUEUE_DESC_HIGH -> queue.setDescTableAddress(null, value);
            case VirtioMmio.QUEUE_AVAIL_LOW -> queue.setAvailRingAddress(value, null);
            case VirtioMmio.QUEUE_AVAIL_HIGH -> queue.setAvailRingAddress(null, value);
            case VirtioMmio.QUEUE_USED_LOW -> queue.setUsedRingAddress(value, null);
            default -> queue.setUsedRingAddress(null, value);
        };
        if (!taken)
        {
            ignoredWrites++;
        }
    }

    private void notifyQueue(final int queue)
    {
        if (!state.activated() || queue < 0 || queue >= state.queues().length)
        {
            ignoredWrites++;
            return;
        }
        try
        {
            state.device().queueNotify(queue);
        }
        catch (final DeviceException | RuntimeException e)
        {
            deviceErrors++;
            state.markNeedsReset();
        }
    }

    /**
     * Reads a 32-bit register.
     *
     * @param offset the register offset.
     * @return its value (0 for a bad access).
     */
    public int readRegister(final int offset)
    {
        final byte[] data = new byte[REGISTER_WIDTH];
        read(offset, data);
        return MemorySegment.ofArray(data).get(LE_U32, 0);
    }

    /**
     * Writes a 32-bit register.
     *
     * @param offset the register offset.
     * @param value  the value.
     */
    public void writeRegister(final int offset, final int value)
    {
        final byte[] data = new byte[REGISTER_WIDTH];
        MemorySegment.ofArray(data).set(LE_U32, 0, value);
        write(offset, data);
    }

    @Override
    public void signalUsedBuffers(final int queue)
    {
        state.interruptStatus().getAndUpdate(bits -> bits | VirtioMmio.INT_VRING);
        interruptLine.run();
    }

    @Override
    public void signalConfigChange()
    {
        state.interruptStatus().getAndUpdate(bits -> bits | VirtioMmio.INT_CONFIG);
        interruptLine.run();
    }

    /** @return the device state behind the window. */
    public DeviceState state()
    {
        return state;
    }

    /** @return writes ignored because the status did not allow them (or the handshake refused them). */
    public long ignoredWrites()
    {
        return ignoredWrites;
    }

    /** @return accesses of the wrong width or to an unknown register. */
    public long badAccesses()
    {
        return badAccesses;
    }

    /** @return queue notifications on which the device failed (each set DEVICE_NEEDS_RESET). */
    public long deviceErrors()
    {
        return deviceErrors;
    }
}
