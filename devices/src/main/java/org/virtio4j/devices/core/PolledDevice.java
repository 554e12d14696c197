package org.virtio4j.devices.core;

import java.util.function.IntConsumer;

/**
 * A device that has work from outside its queues (host sockets, a bridge): its owner polls it every duty cycle,
 * and may sleep only when it says it is idle, waking on the descriptors it names (readable, or writable).
 */
public interface PolledDevice extends VirtioDevice
{
    /**
     * Does the outside work: takes host input, and fills the guest's receive buffers with what is waiting.
     *
     * @param completedPerQueue incremented by the chains completed on each queue (for notifications).
     * @return the work done (0 when idle).
     * @throws DeviceException if a queue needs a reset.
     */
    int poll(int[] completedPerQueue) throws DeviceException;

    /** @return true if the device has work that no descriptor will announce (its owner must not sleep). */
    boolean busy();

    /** @param sink given each descriptor whose readability means {@link #poll} has work. */
    void addWakeFds(IntConsumer sink);

    /** @param sink given each descriptor whose room to write means {@link #poll} has work (none by default). */
    default void addWriteWakeFds(final IntConsumer sink)
    {
    }
}
