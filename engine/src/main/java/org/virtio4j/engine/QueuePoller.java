package org.virtio4j.engine;

import java.util.Arrays;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.memory.linux.FdPoller;

/**
 * A poller: watches the avail.idx of a set of queues with acquire loads and tells each queue's actor, through
 * its ring, when a queue has new entries ("queue Q has entries up to N"). It reads guest memory but never writes
 * it. After a queue has been idle for its {@link PollWindow poll window} it asks the actor to re-enable guest
 * notifications, and then watches the queue's kick eventfd instead (the thread may block on it). Until then the
 * queue stops the thread from sleeping: the guest has been told not to kick.
 *
 * <p>In run-to-completion mode the poller hands work straight to the actor on the same thread, with no ring.
 */
final class QueuePoller implements Agent, Sleeper
{
    private static final int COMMAND_LIMIT = 16;

    private final String name;
    private final NanoClock clock;
    private final PollWindow window;
    private final DeviceActor inlineActor;
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(1024);
    private final AtomicCounter busyPolls;
    private final AtomicCounter idlePolls;
    private QueueBinding[] bindings = new QueueBinding[0];
    /** The queue whose ring this poller read last (a late memory fault is its device's failure). */
    private QueueBinding current;
    ThreadWaker waker;

    /**
     * @param inlineActor the actor to call directly (run-to-completion), or null to publish into actors' rings.
     */
    QueuePoller(final String name, final NanoClock clock, final PollWindow window, final DeviceActor inlineActor,
        final EngineCounters counters)
    {
        this.name = name;
        this.clock = clock;
        this.window = window;
        this.inlineActor = inlineActor;
        busyPolls = counters.newCounter(CounterType.POLL_BUSY, name + " ");
        idlePolls = counters.newCounter(CounterType.POLL_IDLE, name + " ");
    }

    @Override
    public String roleName()
    {
        return name;
    }

    void command(final Runnable command)
    {
        if (!commands.offer(command))
        {
            throw new IllegalStateException("poller " + name + " command queue full");
        }
        if (waker != null)
        {
            waker.wake();
        }
    }

    void add(final QueueBinding binding)
    {
        binding.pollState = QueueBinding.POLLING;
        binding.lastSeenAvail = -1;
        binding.lastActivityNanos = clock.nanoTime();
        binding.pollWindowNanos = window.initialNanos();
        binding.pollWindow.setRelease(binding.pollWindowNanos);
        bindings = Arrays.copyOf(bindings, bindings.length + 1);
        bindings[bindings.length - 1] = binding;
    }

    void remove(final DeviceHandle device)
    {
        bindings = Arrays.stream(bindings).filter(b -> b.device != device).toArray(QueueBinding[]::new);
        if (current != null && current.device == device)
        {
            current = null;
        }
    }

    @Override
    public int doWork()
    {
        try
        {
            return work();
        }
        catch (final InternalError | RuntimeException e)
        {
            // A fault on guest memory raised at a safepoint poll after the read that caused it: the queue read last.
            // Which queue: those whose device's memory shrank, asked of its files; else the queue read last.
            final QueueBinding last = current;
            if (!DeviceFailure.isMemoryFault(e) || last == null)
            {
                throw e;
            }
            boolean found = false;
            for (final QueueBinding binding : bindings)
            {
                if (binding.active && binding.device.memoryShrunk())
                {
                    binding.reportFault(DeviceFailure.memoryFault(e));
                    found = true;
                }
            }
            if (!found)
            {
                last.reportFault(DeviceFailure.memoryFault(e));
            }
            return 1;
        }
    }

    private int work()
    {
        int work = 0;
        Runnable command;
        while (work < COMMAND_LIMIT && (command = commands.poll()) != null)
        {
            command.run();
            work++;
        }
        final long now = clock.nanoTime();
        final QueueBinding[] bindings = this.bindings;
        for (final QueueBinding binding : bindings)
        {
            if (binding.active)
            {
                current = binding;
                work += poll(binding, now);
            }
            else
            {
                // Paused, stopped or reset: start over when it comes back (work seen meanwhile is seen again).
                binding.pollState = QueueBinding.POLLING;
                binding.lastSeenAvail = -1;
                binding.lastActivityNanos = now;
            }
        }
        if (inlineActor != null)
        {
            inlineActor.endOfBatch();
        }
        if (work > 0)
        {
            busyPolls.incrementRelease();
        }
        else
        {
            idlePolls.incrementRelease();
        }
        return work;
    }

    private int poll(final QueueBinding binding, final long now)
    {
        final int availIdx = binding.availIdx();
        switch (binding.pollState)
        {
            case QueueBinding.POLLING ->
            {
                if (availIdx >= 0 && availIdx != binding.lastSeenAvail)
                {
                    return work(binding, availIdx, now);
                }
                if (!window.pollsForever() && binding.kick != null &&
                    now - Math.max(binding.lastActivityNanos, binding.lastCompletionNanos) >= binding.pollWindowNanos &&
                    send(QueueEvent.ARM, binding, availIdx))
                {
                    binding.pollState = QueueBinding.ARMING;
                    binding.armedAtNanos = now;
                    return 1;
                }
            }
            case QueueBinding.ARMING ->
            {
                if (availIdx >= 0 && availIdx != binding.lastSeenAvail)
                {
                    return work(binding, availIdx, now);
                }
                if (binding.armed)
                {
                    binding.pollState = QueueBinding.SLEEPING;
                    binding.sleeps.incrementRelease();
                }
            }
            default ->
            {
                final boolean kicked = binding.kick.drain() > 0;
                if (kicked)
                {
                    binding.kicks.incrementRelease();
                }
                if (kicked || availIdx >= 0 && availIdx != binding.lastSeenAvail)
                {
                    adapt(binding, now);
                    final int done = work(binding, availIdx, now);
                    if (done == 0)
                    {
                        // The ring was full: the kick is consumed, so poll until the work is handed over.
                        binding.pollState = QueueBinding.POLLING;
                    }
                    return done;
                }
            }
        }
        return 0;
    }

    /**
     * A sleep ended: the queue's window adapts to the idle gap the sleep closed, counted from when the guest last
     * had something to answer (the sleep began, or later, a completion was given to it while it slept).
     */
    private void adapt(final QueueBinding binding, final long now)
    {
        final long adapted = window.afterSleep(binding.pollWindowNanos, now - Math.max(binding.armedAtNanos, binding.lastCompletionNanos));
        if (adapted != binding.pollWindowNanos)
        {
            binding.pollWindowNanos = adapted;
            binding.pollWindow.setRelease(adapted);
        }
    }

    private int work(final QueueBinding binding, final int availIdx, final long now)
    {
        if (!send(QueueEvent.WORK, binding, availIdx))
        {
            return 0;
        }
        binding.lastSeenAvail = availIdx;
        binding.lastActivityNanos = now;
        binding.pollState = QueueBinding.POLLING;
        return 1;
    }

    private boolean send(final int type, final QueueBinding binding, final int availIdx)
    {
        if (inlineActor != null)
        {
            if (type == QueueEvent.ARM)
            {
                inlineActor.onArm(binding);
            }
            else
            {
                inlineActor.onWork(binding);
            }
            return true;
        }
        final DeviceActor actor = binding.device.actor();
        if (!actor.publish(type, binding, availIdx))
        {
            return false;
        }
        final ThreadWaker actorWaker = actor.waker;
        if (actorWaker != null && actorWaker != waker)
        {
            actorWaker.wakeIfSleeping();
        }
        return true;
    }

    @Override
    public boolean canSleep()
    {
        if (!commands.isEmpty())
        {
            return false;
        }
        for (final QueueBinding binding : bindings)
        {
            if (binding.active && binding.pollState != QueueBinding.SLEEPING)
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean mustSpin()
    {
        for (final QueueBinding binding : bindings)
        {
            if (binding.active && binding.kick != null && binding.pollState != QueueBinding.SLEEPING)
            {
                return true;
            }
        }
        return false;
    }

    @Override
    public void addWakeFds(final FdPoller poller)
    {
        for (final QueueBinding binding : bindings)
        {
            if (binding.active && binding.kick != null)
            {
                poller.add(binding.kick.fd());
            }
        }
    }
}
