package org.virtio4j.engine;

import java.lang.invoke.VarHandle;

import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.ErrnoException;

/**
 * Wakes the thread an agent runs on when it sleeps in {@link HybridIdleStrategy}: a publisher or a command
 * sender calls {@link #wakeIfSleeping()} after making its work visible; the sleeper sets {@code sleeping} before
 * its last look for work. Both are volatile, so one of the two always sees the other.
 */
final class ThreadWaker implements AutoCloseable
{
    final EventFd eventFd;
    volatile boolean sleeping;

    ThreadWaker()
    {
        try
        {
            eventFd = EventFd.create();
        }
        catch (final ErrnoException e)
        {
            throw new IllegalStateException("cannot create the wake-up eventfd", e);
        }
    }

    void wakeIfSleeping()
    {
        // The caller's work (a ring publish, a completion offer) must be visible before we read sleeping.
        VarHandle.fullFence();
        if (sleeping)
        {
            eventFd.signal();
        }
    }

    void wake()
    {
        eventFd.signal();
    }

    @Override
    public void close() throws ErrnoException
    {
        eventFd.close();
    }
}
