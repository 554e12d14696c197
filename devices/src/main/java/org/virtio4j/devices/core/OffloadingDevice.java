package org.virtio4j.devices.core;

/**
 * A device whose requests may block and therefore run on an offload thread. The request's completion still comes
 * back to the device's owner (its actor), which alone writes the used ring: the offload thread only executes the
 * request in guest memory and queues the completion; {@link #drainCompletions} adds the used elements.
 */
public interface OffloadingDevice extends VirtioDevice
{
    /** @return true if this device's requests should be offloaded (its backend blocks). */
    boolean needsOffload();

    /**
     * Starts offloading.
     *
     * @param offload          where blocking work goes.
     * @param completionSignal called on the offload thread after a completion is queued (wakes the owner).
     */
    void offload(RequestOffload offload, Runnable completionSignal);

    /**
     * Adds the used elements of completed requests (owner thread only).
     *
     * @param completedPerQueue incremented by the number completed on each queue.
     * @param takeMore          true if queues that were left waiting for free slots may be processed again (false
     *                          while the device is paused, stopping or resetting).
     * @return the total completed.
     * @throws DeviceException if a used element cannot be written.
     */
    int drainCompletions(int[] completedPerQueue, boolean takeMore) throws DeviceException;

    /** @return true if completions are waiting for {@link #drainCompletions} (any thread may ask). */
    boolean hasCompletions();

    /** @return requests handed to the offload and not yet drained. */
    int inFlight();
}
