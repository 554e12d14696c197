package org.virtio4j.devices.testing;

import org.virtio4j.devices.mmio.MmioTransport;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DeviceStatus;
import org.virtio4j.virtio.VirtioMmio;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * A guest driver's bring-up of a virtio-mmio device, register by register, as Linux's virtio_mmio does it:
 * reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK (checked), queue set-up, DRIVER_OK. The queues
 * are {@link DriverQueue}s laid out one after another from a base address.
 */
public final class MmioDriver
{
    private final MmioTransport mmio;
    private final GuestMemory memory;
    private DriverQueue[] queues = new DriverQueue[0];
    private long negotiated;

    /**
     * @param mmio   the device's register window.
     * @param memory the guest memory the queues go in.
     */
    public MmioDriver(final MmioTransport mmio, final GuestMemory memory)
    {
        this.mmio = mmio;
        this.memory = memory;
    }

    /**
     * Runs the whole bring-up.
     *
     * @param wanted    the features the driver understands (it accepts those the device offers).
     * @param queueSize the size to give every queue (at most its maximum).
     * @param queueBase where the first queue's descriptor table goes; each queue takes 64 KiB.
     * @return this.
     * @throws IllegalStateException naming the step that failed.
     */
    public MmioDriver bringUp(final long wanted, final int queueSize, final long queueBase)
    {
        check(mmio.readRegister(VirtioMmio.MAGIC_VALUE) == VirtioMmio.MAGIC, "magic");
        check(mmio.readRegister(VirtioMmio.VERSION_REG) == VirtioMmio.VERSION, "version");
        mmio.writeRegister(VirtioMmio.STATUS, 0);
        check(mmio.readRegister(VirtioMmio.STATUS) == 0, "reset");
        setStatus(DeviceStatus.ACKNOWLEDGE);
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        negotiated = deviceFeatures() & wanted;
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES_SEL, 0);
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES, (int)negotiated);
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES_SEL, 1);
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES, (int)(negotiated >>> 32));
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        final int count = mmio.state().queues().length;
        queues = new DriverQueue[count];
        for (int i = 0; i < count; i++)
        {
            mmio.writeRegister(VirtioMmio.QUEUE_SEL, i);
            final int max = mmio.readRegister(VirtioMmio.QUEUE_NUM_MAX);
            check(max >= queueSize, "queue " + i + " max " + max);
            final DriverQueue queue = new DriverQueue(memory, queueBase + i * 0x1_0000L, queueSize);
            mmio.writeRegister(VirtioMmio.QUEUE_NUM, queueSize);
            writeAddress(VirtioMmio.QUEUE_DESC_LOW, queue.descTable());
            writeAddress(VirtioMmio.QUEUE_AVAIL_LOW, queue.availRing());
            writeAddress(VirtioMmio.QUEUE_USED_LOW, queue.usedRing());
            mmio.writeRegister(VirtioMmio.QUEUE_READY, 1);
            check(mmio.readRegister(VirtioMmio.QUEUE_READY) == 1, "queue " + i + " ready");
            queues[i] = queue;
        }
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
        return this;
    }

    private void writeAddress(final int lowRegister, final long address)
    {
        mmio.writeRegister(lowRegister, (int)address);
        mmio.writeRegister(lowRegister + 4, (int)(address >>> 32));
    }

    private void setStatus(final int status)
    {
        mmio.writeRegister(VirtioMmio.STATUS, status);
        check(mmio.readRegister(VirtioMmio.STATUS) == status, "status " + status);
    }

    /** @return the 64 feature bits the device offers, read through both select pages. */
    public long deviceFeatures()
    {
        mmio.writeRegister(VirtioMmio.DEVICE_FEATURES_SEL, 0);
        final long low = Integer.toUnsignedLong(mmio.readRegister(VirtioMmio.DEVICE_FEATURES));
        mmio.writeRegister(VirtioMmio.DEVICE_FEATURES_SEL, 1);
        final long high = Integer.toUnsignedLong(mmio.readRegister(VirtioMmio.DEVICE_FEATURES));
        return high << 32 | low;
    }

    private static void check(final boolean ok, final String step)
    {
        if (!ok)
        {
            throw new IllegalStateException("bring-up failed at: " + step);
        }
    }

    /** @return the features both sides accepted. */
    public long negotiated()
    {
        return negotiated;
    }

    /**
     * @param index a queue index.
     * @return the driver's half of that queue.
     */
    public DriverQueue queue(final int index)
    {
        return queues[index];
    }

    /**
     * Notifies the device that a queue has new buffers.
     *
     * @param index the queue index.
     */
    public void kick(final int index)
    {
        mmio.writeRegister(VirtioMmio.QUEUE_NOTIFY, index);
    }

    /** Resets the device by writing 0 to the status register. */
    public void reset()
    {
        mmio.writeRegister(VirtioMmio.STATUS, 0);
    }
}
