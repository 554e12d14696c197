package org.virtio4j.devices.core;

/**
 * A device whose queues are independent lanes: lane {@code q} is a device of its own that owns queue {@code q} of
 * this one (it sees it as its queue 0) and shares nothing mutable with the other lanes. This device delegates each
 * queue to its lane, so it can be driven whole by one actor; an engine with several actors may instead attach
 * each lane to a different actor, so that every queue is served on its own thread with no lock between them.
 *
 * <p>The control plane (features, config space, activate, reset) still talks to this device, which passes
 * activation and reset on to its lanes.
 */
public interface LanedDevice extends VirtioDevice
{
    /** @return the number of lanes (one per queue), or 0 if the queues are not independent. */
    int laneCount();

    /**
     * @param queue a queue index.
     * @return the lane that owns it.
     */
    VirtioDevice lane(int queue);
}
