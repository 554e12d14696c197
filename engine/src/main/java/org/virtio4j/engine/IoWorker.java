package org.virtio4j.engine;

import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.virtio4j.devices.core.RequestOffload;

/**
 * The thread that runs a device's blocking requests (file I/O) so that its actor never blocks. The actor submits
 * preallocated tasks through a bounded single-producer queue; the worker parks when it has none (an idle worker
 * costs no CPU) and is unparked by the next submission. No locks, no allocation per request.
 */
final class IoWorker implements RequestOffload, AutoCloseable
{
    private static final int SPINS_BEFORE_PARK = 1000;

    private final OneToOneConcurrentArrayQueue<Runnable> tasks;
    private final Thread thread;
    private volatile boolean parked;
    private volatile boolean running = true;
    private long failures;

    IoWorker(final String name, final int capacity)
    {
        tasks = new OneToOneConcurrentArrayQueue<>(capacity);
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public boolean submit(final Runnable task)
    {
        if (!tasks.offer(task))
        {
            return false;
        }
        // The offer must be visible before we read parked (the worker writes parked, then reads the queue).
        VarHandle.fullFence();
        if (parked)
        {
            LockSupport.unpark(thread);
        }
        return true;
    }

    private void run()
    {
        int idle = 0;
        while (running)
        {
            final Runnable task = tasks.poll();
            if (task != null)
            {
                try
                {
                    task.run();
                }
                catch (final RuntimeException e)
                {
                    // A task must complete its request itself; one that throws must not stop the worker.
                    failures++;
                }
                idle = 0;
                continue;
            }
            if (++idle < SPINS_BEFORE_PARK)
            {
                Thread.onSpinWait();
                continue;
            }
            parked = true;
            VarHandle.fullFence();
            if (tasks.isEmpty() && running)
            {
                LockSupport.park(this);
            }
            parked = false;
        }
    }

    @Override
    public void close()
    {
        running = false;
        LockSupport.unpark(thread);
        try
        {
            thread.join(1000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
