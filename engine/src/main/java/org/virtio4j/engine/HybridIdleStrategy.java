package org.virtio4j.engine;

import java.util.List;

import org.agrona.concurrent.IdleStrategy;
import org.virtio4j.memory.linux.FdPoller;

/**
 * A thread's idle strategy: the configured one while any agent on the thread may have work soon, and a blocking
 * {@code poll(2)} on the kick eventfds of its sleeping queues (and the thread's wake-up eventfd) once every agent
 * can sleep. An idle engine therefore costs no CPU, and a busy one never makes a system call to wait.
 */
final class HybridIdleStrategy implements IdleStrategy
{
    private final IdleStrategy inner;
    private final List<Sleeper> sleepers;
    private final ThreadWaker waker;
    private final int timeoutMillis;
    private final boolean spinForWindows;
    private final FdPoller poller = new FdPoller(1024);

    /**
     * @param spinForWindows true (adaptive polling) to spin while any queue's poll window is open and idle with
     *                       {@code inner} (which may park) only otherwise: waiting on in-flight I/O, a polled-only
     *                       ring, a busy host socket.
     */
    HybridIdleStrategy(final IdleStrategy inner, final List<Sleeper> sleepers, final ThreadWaker waker, final int timeoutMillis,
        final boolean spinForWindows)
    {
        this.spinForWindows = spinForWindows;
        this.inner = inner;
        this.sleepers = sleepers;
        this.waker = waker;
        this.timeoutMillis = timeoutMillis;
    }

    private boolean anyMustSpin()
    {
        for (int i = 0, n = sleepers.size(); i < n; i++)
        {
            if (sleepers.get(i).mustSpin())
            {
                return true;
            }
        }
        return false;
    }

    private boolean allCanSleep()
    {
        for (int i = 0, n = sleepers.size(); i < n; i++)
        {
            if (!sleepers.get(i).canSleep())
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            inner.reset();
            return;
        }
        idle();
    }

    @Override
    public void idle()
    {
        if (!allCanSleep())
        {
            if (spinForWindows && anyMustSpin())
            {
                // The guest was told not to kick: parking now would make its request wait for the park to end.
                Thread.onSpinWait();
                inner.reset();
            }
            else
            {
                inner.idle();
            }
            return;
        }
        poller.clear();
        poller.add(waker.eventFd.fd());
        for (int i = 0, n = sleepers.size(); i < n; i++)
        {
            sleepers.get(i).addWakeFds(poller);
        }
        waker.sleeping = true;
        if (allCanSleep())
        {
            poller.poll(timeoutMillis);
        }
        waker.sleeping = false;
        waker.eventFd.drain();
        inner.reset();
    }

    @Override
    public void reset()
    {
        inner.reset();
    }

    @Override
    public String alias()
    {
        return "hybrid(" + inner.alias() + ")";
    }
}
