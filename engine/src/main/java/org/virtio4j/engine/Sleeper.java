package org.virtio4j.engine;

import org.virtio4j.memory.linux.FdPoller;

/**
 * An agent that can let its thread block when it has nothing to do, and names the descriptors that wake it.
 */
interface Sleeper
{
    /** @return true if the agent has nothing to do until one of its descriptors is readable. */
    boolean canSleep();

    /**
     * @return true if the agent watches a queue whose guest has been told not to notify (a poll window is open):
     *         the thread must then spin, never park.
     */
    default boolean mustSpin()
    {
        return false;
    }

    /** @param poller the set to add the agent's wake-up descriptors to (kick eventfds of sleeping queues). */
    void addWakeFds(FdPoller poller);
}
