package org.virtio4j.devices.core;

import java.util.function.IntConsumer;

/**
 * A device whose requests may complete after the call that took them (a file backend with many requests in
 * flight on io_uring or I/O threads). The completion still comes back to the device's owner (its actor), which
 * alone writes the used ring: {@link #drainCompletions} reaps finished operations and adds their used elements.
 * Everything here is called on the owner's thread, except {@link #hasCompletions()}.
 */
public interface AsyncDevice extends VirtioDevice
{
    /** @return true if requests may complete asynchronously (the engine then drains this device every cycle). */
    boolean asynchronous();

    /**
     * Adds the used elements of completed requests.
     *
     * @param completedPerQueue incremented by the number completed on each queue.
     * @param takeMore          true if queues that were left waiting for free slots may be processed again (false
     *                          while the device is paused, stopping or resetting).
     * @return the total completed.
     * @throws DeviceException if a used element cannot be written.
     */
    int drainCompletions(int[] completedPerQueue, boolean takeMore) throws DeviceException;

    /** @return true if completions wait for {@link #drainCompletions} (any thread may ask). */
    boolean hasCompletions();

    /** @return requests taken from the rings and not yet completed. */
    int inFlight();

    /**
     * Names the descriptors that become readable when a completion arrives, before the owner sleeps. The owner
     * checks {@link #hasCompletions()} again after this, so a completion is never missed.
     *
     * @param fds receives each descriptor.
     */
    void addCompletionFds(IntConsumer fds);
}
