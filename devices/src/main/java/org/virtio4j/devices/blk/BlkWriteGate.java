package org.virtio4j.devices.blk;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The writes in flight on one O_DIRECT file, across every queue of the disk (queues may run on different
 * threads), and the read-modify-write that must run alone among them: a write that finds a read-modify-write
 * holding the gate waits (its request stays deferred); a read-modify-write takes the gate first, then waits for
 * the other writes to drain. Both sides use sequentially consistent atomics, so either the write sees the gate or
 * the read-modify-write sees the write.
 *
 * <p>Thread-safe; allocation-free.
 */
final class BlkWriteGate
{
    private final AtomicInteger writes = new AtomicInteger();
    private final AtomicBoolean exclusive = new AtomicBoolean();

    /**
     * A write starts, unless a read-modify-write holds the gate.
     *
     * @param holder true if this write is the read-modify-write that holds the gate.
     * @return false if it must wait (nothing was counted).
     */
    boolean enter(final boolean holder)
    {
        writes.incrementAndGet();
        if (exclusive.get() && !holder)
        {
            writes.decrementAndGet();
            return false;
        }
        return true;
    }

    /** A write that {@link #enter}ed is done. */
    void leave()
    {
        writes.decrementAndGet();
    }

    /** @return true if the caller now holds the gate (no other read-modify-write did). */
    boolean tryHold()
    {
        return exclusive.compareAndSet(false, true);
    }

    /** @return true if the holder's write is the only one in flight. */
    boolean alone()
    {
        return writes.get() <= 1;
    }

    /** The read-modify-write is done. */
    void release()
    {
        exclusive.set(false);
    }
}
