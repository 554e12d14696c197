package org.virtio4j.engine;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;

/**
 * One device queue attached to the engine: the queue, its memory, its kick and call eventfds, and the state the
 * poller and the actor share about it. The protocol between them:
 * <ul>
 *   <li>the poller owns {@code pollState}, {@code lastSeenAvail} and {@code lastActivityNanos};</li>
 *   <li>the actor owns the queue itself (the only writer of its used ring) and sets {@link #active} and
 *       {@link #armed}, which the poller reads with volatile loads.</li>
 * </ul>
 * Hybrid polling: POLLING (for the queue's poll window) (the poller watches avail.idx) → after the idle period, ARMING (the poller asked the
 * actor to re-enable guest notifications) → SLEEPING once the actor has (the thread may block on the kick
 * eventfd) → POLLING again on a kick or a moved avail.idx (the actor disables notifications again).
 */
final class QueueBinding
{
    static final int POLLING = 0;
    static final int ARMING = 1;
    static final int SLEEPING = 2;

    final DeviceHandle device;
    final int queueIndex;
    final SplitQueue queue;
    final GuestMemory memory;
    final EventFd kick;
    final EventFd call;

    /** The poller watching this queue (set when attached). */
    QueuePoller poller;

    // Poller-owned.
    int pollState = POLLING;
    int lastSeenAvail = -1;
    long lastActivityNanos;
    long pollWindowNanos;
    long armedAtNanos;
    /** A fault reading the ring was handed to the actor (once per attachment). */
    boolean faultReported;

    // Written by the actor, read by the poller.
    volatile boolean active;
    /** When the actor last completed requests of this queue asynchronously (its poll window restarts then). */
    volatile long lastCompletionNanos;
    volatile boolean armed;

    // Actor-owned.
    boolean touched;
    int completedSinceSignal;

    final AtomicCounter chains;
    final AtomicCounter batches;
    final AtomicCounter batchEvents;
    final AtomicCounter notificationsSent;
    final AtomicCounter notificationsSuppressed;
    final AtomicCounter kicks;
    final AtomicCounter sleeps;
    final AtomicCounter ringFull;
    final AtomicCounter pollWindow;

    QueueBinding(final DeviceHandle device, final int queueIndex, final SplitQueue queue, final GuestMemory memory,
        final EventFd kick, final EventFd call, final EngineCounters counters)
    {
        this.device = device;
        this.queueIndex = queueIndex;
        this.queue = queue;
        this.memory = memory;
        this.kick = kick;
        this.call = call;
        final String prefix = device.name() + " q" + queueIndex + " ";
        chains = counters.newCounter(CounterType.CHAINS, prefix);
        batches = counters.newCounter(CounterType.BATCHES, prefix);
        batchEvents = counters.newCounter(CounterType.BATCH_EVENTS, prefix);
        notificationsSent = counters.newCounter(CounterType.NOTIFICATIONS_SENT, prefix);
        notificationsSuppressed = counters.newCounter(CounterType.NOTIFICATIONS_SUPPRESSED, prefix);
        kicks = counters.newCounter(CounterType.KICKS, prefix);
        sleeps = counters.newCounter(CounterType.SLEEPS, prefix);
        ringFull = counters.newCounter(CounterType.RING_FULL, prefix);
        pollWindow = counters.newCounter(CounterType.POLL_WINDOW, prefix);
    }

    /**
     * @return avail.idx (acquire), or -1 if the ring cannot be read now.
     */
    int availIdx()
    {
        try
        {
            return queue.availIdxAcquire(memory);
        }
        catch (final QueueException e)
        {
            return -1;
        }
        catch (final InternalError | IllegalStateException e)
        {
            // A fault on guest memory, or memory already unmapped under a device that never stopped (a start that
            // timed out): the device fails on its actor's thread; this thread goes on polling the others.
            reportFault(e);
            return -1;
        }
    }

    /** Hands a fault reading this queue's ring to its device's actor, once per attachment (poller thread). */
    void reportFault(final Throwable fault)
    {
        if (!faultReported)
        {
            faultReported = true;
            device.actor().failLater(this, fault);
        }
    }

    /** Called by the actor after a batch: signal the driver if the event-idx rules say so. */
    void decideNotification()
    {
        if (completedSinceSignal == 0)
        {
            return;
        }
        completedSinceSignal = 0;
        boolean notify;
        try
        {
            notify = queue.needsNotification(memory);
        }
        catch (final QueueException e)
        {
            notify = true;
        }
        if (notify && call != null)
        {
            call.signal();
            notificationsSent.incrementRelease();
        }
        else
        {
            notificationsSuppressed.incrementRelease();
        }
    }

    void close()
    {
        chains.close();
        batches.close();
        batchEvents.close();
        notificationsSent.close();
        notificationsSuppressed.close();
        kicks.close();
        sleeps.close();
        ringFull.close();
        pollWindow.close();
    }

    @Override
    public String toString()
    {
        return device.name() + "/q" + queueIndex;
    }
}
