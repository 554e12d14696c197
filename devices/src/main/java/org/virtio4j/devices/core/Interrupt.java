package org.virtio4j.devices.core;

/**
 * How a device signals its driver. Transports implement it: MMIO sets interrupt status bits and raises a line;
 * vhost-user and the engine write a call eventfd.
 */
public interface Interrupt
{
    /**
     * The device put buffers in the used ring of {@code queue} and the notification rules say the driver must be told.
     *
     * @param queue the queue index.
     */
    void signalUsedBuffers(int queue);

    /** The device's configuration space changed (or the device needs a reset). */
    void signalConfigChange();
}
