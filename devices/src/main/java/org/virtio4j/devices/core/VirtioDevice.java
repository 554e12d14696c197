package org.virtio4j.devices.core;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.SplitQueue;

/**
 * A virtio device, independent of its transport (MMIO, vhost-user, the engine). The transport keeps the
 * negotiation state in a {@link DeviceState}; the device supplies what it is, its config space, and the work.
 *
 * <p>Threading: a device is driven by one thread at a time (its actor, or the caller of a transport model).
 */
public interface VirtioDevice
{
    /** @return the virtio device id ({@link org.virtio4j.virtio.DeviceType}). */
    int deviceType();

    /** @return the features the device offers, bit {@code n} for feature {@code n}. */
    long deviceFeatures();

    /** @return the maximum size of each of the device's queues; its length is the number of queues. */
    int[] queueMaxSizes();

    /** @return the size in bytes of the device's config space. */
    int configSize();

    /**
     * Reads config space. Reads past the end are cut short: bytes of {@code data} beyond the config are untouched.
     *
     * @param offset the config offset.
     * @param data   filled from the config.
     * @return the bytes read (0 if {@code offset} is past the end).
     */
    int readConfig(int offset, byte[] data);

    /**
     * Writes config space. Only the fields the driver may write take effect; the rest are ignored.
     *
     * @param offset the config offset.
     * @param data   the bytes.
     * @return the bytes taken (0 if {@code offset} is past the end).
     */
    int writeConfig(int offset, byte[] data);

    /**
     * The driver set DRIVER_OK: start using the queues.
     *
     * @param memory            the guest's memory.
     * @param queues            the queues, configured by the driver (not all need be ready).
     * @param negotiatedFeatures the features both sides accepted.
     * @param interrupt         how to signal the driver.
     * @throws DeviceException if the device cannot start with this configuration.
     */
    void activate(GuestMemory memory, SplitQueue[] queues, long negotiatedFeatures, Interrupt interrupt) throws DeviceException;

    /**
     * The driver notified a queue: process what it made available.
     *
     * @param queue the queue index.
     * @return the number of chains completed.
     * @throws DeviceException if the device hit an error that needs a reset (the transport sets DEVICE_NEEDS_RESET).
     */
    int queueNotify(int queue) throws DeviceException;

    /**
     * Processes what is available on a queue now, without any notification handshake: the engine suppresses
     * notifications itself and decides once per batch whether to signal the driver.
     *
     * @param queue the queue index.
     * @return the number of chains completed.
     * @throws DeviceException if the device hit an error that needs a reset.
     */
    int processQueue(int queue) throws DeviceException;

    /**
     * The guest is gone, not just restarting its queues (the driver wrote status 0, the VMM reset the device or
     * disconnected): drop host-side state tied to it. Queue restarts call {@link #reset()} only.
     */
    default void guestGone()
    {
    }

    /** Back to the state before activation: forget queues, memory and in-flight state. */
    void reset();
}
