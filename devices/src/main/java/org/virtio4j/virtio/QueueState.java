package org.virtio4j.virtio;

import org.virtio4j.memory.GuestAddress;

/**
 * An untrusted snapshot of a queue's state, as saved for migration or restored from a peer. Nothing here is
 * checked: {@link SplitQueue#restore} checks it as it builds a live queue.
 *
 * @param maxSize         the device's maximum size.
 * @param nextAvail       the next available index the device will take (u16).
 * @param nextUsed        the next used index the device will write (u16).
 * @param eventIdxEnabled whether EVENT_IDX was negotiated.
 * @param size            the driver's chosen size.
 * @param ready           whether the queue is live.
 * @param descTable       the descriptor table address.
 * @param availRing       the available ring address.
 * @param usedRing        the used ring address.
 */
public record QueueState(
    int maxSize,
    int nextAvail,
    int nextUsed,
    boolean eventIdxEnabled,
    int size,
    boolean ready,
    long descTable,
    long availRing,
    long usedRing)
{
    @Override
    public String toString()
    {
        return "[maxSize=" + maxSize + " size=" + size + " ready=" + ready + " eventIdx=" + eventIdxEnabled +
            " nextAvail=" + nextAvail + " nextUsed=" + nextUsed + " desc=" + GuestAddress.hex(descTable) +
            " avail=" + GuestAddress.hex(availRing) + " used=" + GuestAddress.hex(usedRing) + "]";
    }
}
