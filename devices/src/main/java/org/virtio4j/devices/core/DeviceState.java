package org.virtio4j.devices.core;

import java.util.concurrent.atomic.AtomicInteger;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DeviceStatus;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioFeatures;

/**
 * The transport-independent negotiation state of one device: device and driver features with their select
 * registers, the status byte and its handshake, the queues with the selected one, the config generation and the
 * interrupt status. It follows the status rules of virtio 1.2 section 3.1 as vm-virtio's {@code VirtioDevice}
 * does: status bits are set one step at a time; FEATURES_OK is refused if the driver accepted a feature that was
 * not offered; EVENT_IDX is passed on to the queues; DRIVER_OK activates the device; writing 0 resets.
 * Refused transitions are counted, never thrown.
 *
 * <p>Not thread-safe, except {@link #interruptStatus()}: owned by the transport's control thread.
 */
public final class DeviceState
{
    private final VirtioDevice device;
    private final SplitQueue[] queues;
    private final AtomicInteger interruptStatus = new AtomicInteger();
    private GuestMemory memory;
    private Interrupt interrupt;
    private long driverFeatures;
    private int deviceFeaturesSelect;
    private int driverFeaturesSelect;
    private int queueSelect;
    private int status;
    private int configGeneration;
    private boolean activated;
    private long refusedTransitions;
    private long activationFailures;
    private long invalidQueues;

    /**
     * @param device the device.
     */
    public DeviceState(final VirtioDevice device)
    {
        this.device = device;
        final int[] maxSizes = device.queueMaxSizes();
        queues = new SplitQueue[maxSizes.length];
        for (int i = 0; i < maxSizes.length; i++)
        {
            queues[i] = new SplitQueue(maxSizes[i]);
        }
    }

    /**
     * Sets what activation hands the device.
     *
     * @param memory    the guest's memory.
     * @param interrupt how the device signals the driver.
     * @return this.
     */
    public DeviceState attach(final GuestMemory memory, final Interrupt interrupt)
    {
        this.memory = memory;
        this.interrupt = interrupt;
        return this;
    }

    /** @return the device. */
    public VirtioDevice device()
    {
        return device;
    }

    /** @return the status byte. */
    public int status()
    {
        return status;
    }

    /**
     * @param set     bits that must be set.
     * @param cleared bits that must be clear.
     * @return true if the status has every bit of {@code set} and none of {@code cleared}.
     */
    public boolean checkStatus(final int set, final int cleared)
    {
        return (status & (set | cleared)) == set;
    }

    /**
     * The driver writes the status byte.
     *
     * @param value the new status.
     * @return true if the write took effect.
     */
    public boolean writeStatus(final int value)
    {
        final int newValue = value & 0xff;
        final int added = ~status & newValue;
        final int ackDriver = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER;
        if (added == DeviceStatus.ACKNOWLEDGE && status == 0)
        {
            status = newValue;
        }
        else if (added == DeviceStatus.DRIVER && status == DeviceStatus.ACKNOWLEDGE)
        {
            status = newValue;
        }
        else if (added == DeviceStatus.FEATURES_OK && status == ackDriver)
        {
            if ((driverFeatures & ~device.deviceFeatures()) != 0)
            {
                return refuse();
            }
            final boolean eventIdx = VirtioFeatures.has(driverFeatures, VirtioFeatures.RING_EVENT_IDX);
            for (final SplitQueue queue : queues)
            {
                queue.setEventIdx(eventIdx);
            }
            status = newValue;
        }
        else if (added == DeviceStatus.DRIVER_OK && status == (ackDriver | DeviceStatus.FEATURES_OK))
        {
            for (final SplitQueue queue : queues)
            {
                // Rings that do not lie in guest memory are refused here, once, rather than met on every notify.
                if (queue.ready() && !queue.isValid(memory))
                {
                    invalidQueues++;
                    return refuse();
                }
            }
            try
            {
                device.activate(memory, queues, driverFeatures, interrupt);
            }
            catch (final DeviceException | RuntimeException e)
            {
                activationFailures++;
                return refuse();
            }
            activated = true;
            status = newValue;
        }
        else if ((newValue & DeviceStatus.FAILED) != 0)
        {
            status |= DeviceStatus.FAILED;
        }
        else if (newValue == 0)
        {
            reset();
        }
        else
        {
            return refuse();
        }
        return true;
    }

    private boolean refuse()
    {
        refusedTransitions++;
        return false;
    }

    /** Resets the device and everything negotiated: status 0, features 0, queues reset. */
    public void reset()
    {
        device.reset();
        device.guestGone();
        for (final SplitQueue queue : queues)
        {
            queue.reset();
        }
        status = 0;
        driverFeatures = 0;
        deviceFeaturesSelect = 0;
        driverFeaturesSelect = 0;
        queueSelect = 0;
        interruptStatus.set(0);
        activated = false;
    }

    /**
     * The device failed in a way only a reset cures: sets DEVICE_NEEDS_RESET and, once the driver is running,
     * signals a config change (virtio 1.2 section 2.1.2).
     */
    public void markNeedsReset()
    {
        status |= DeviceStatus.DEVICE_NEEDS_RESET;
        if (activated && interrupt != null)
        {
            interrupt.signalConfigChange();
        }
    }

    /** @return true once DRIVER_OK has activated the device (until reset). */
    public boolean activated()
    {
        return activated;
    }

    /** @return the features the device offers. */
    public long deviceFeatures()
    {
        return device.deviceFeatures();
    }

    /** @return the features the driver accepted. */
    public long driverFeatures()
    {
        return driverFeatures;
    }

    /**
     * The driver writes 32 bits of its features.
     *
     * @param page  0 for bits 0-31, 1 for bits 32-63; other pages are ignored.
     * @param value the bits.
     */
    public void setDriverFeatures(final int page, final int value)
    {
        if (page == 0)
        {
            driverFeatures = (driverFeatures & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(value);
        }
        else if (page == 1)
        {
            driverFeatures = (driverFeatures & 0xffff_ffffL) | Integer.toUnsignedLong(value) << 32;
        }
    }

    /** @return the device features page the driver selected. */
    public int deviceFeaturesSelect()
    {
        return deviceFeaturesSelect;
    }

    /** @param page the device features page to show. */
    public void setDeviceFeaturesSelect(final int page)
    {
        deviceFeaturesSelect = page;
    }

    /** @return the driver features page the driver selected. */
    public int driverFeaturesSelect()
    {
        return driverFeaturesSelect;
    }

    /** @param page the driver features page the next write goes to. */
    public void setDriverFeaturesSelect(final int page)
    {
        driverFeaturesSelect = page;
    }

    /** @return the selected queue index (may be out of range). */
    public int queueSelect()
    {
        return queueSelect;
    }

    /** @param index the queue index the queue registers refer to (the low 16 bits are kept). */
    public void setQueueSelect(final int index)
    {
        queueSelect = index & 0xffff;
    }

    /** @return the selected queue, or null if the selection is out of range. */
    public SplitQueue selectedQueue()
    {
        return queueSelect < queues.length ? queues[queueSelect] : null;
    }

    /** @return the queues. */
    public SplitQueue[] queues()
    {
        return queues;
    }

    /** @return the config generation. */
    public int configGeneration()
    {
        return configGeneration;
    }

    /** Bumps the config generation (after the device changes its config). */
    public void bumpConfigGeneration()
    {
        configGeneration = (configGeneration + 1) & 0xff;
    }

    /** @return the interrupt status bits, shared with whoever raises the interrupt. */
    public AtomicInteger interruptStatus()
    {
        return interruptStatus;
    }

    /** @return status writes refused because they broke the handshake. */
    public long refusedTransitions()
    {
        return refusedTransitions;
    }

    /** @return DRIVER_OK writes refused because a ready queue's rings do not lie in guest memory. */
    public long invalidQueues()
    {
        return invalidQueues;
    }

    /** @return activations the device refused. */
    public long activationFailures()
    {
        return activationFailures;
    }
}
