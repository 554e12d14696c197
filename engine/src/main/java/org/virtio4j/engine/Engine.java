package org.virtio4j.engine;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;

import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;
import org.virtio4j.devices.core.AsyncDevice;
import org.virtio4j.devices.core.LanedDevice;
import org.virtio4j.devices.core.PolledDevice;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.virtio.SplitQueue;

/**
 * The engine: pollers and device actors on threads chosen by the {@link ThreadingMode} (in one place, here), with
 * their counters. Devices are attached with {@link #attach} and controlled through their {@link DeviceHandle}.
 *
 * <pre>
 *   guest ──avail.idx──▶ QueuePoller ──(queue, idx)──▶ Disruptor ring ──▶ DeviceActor ──used ring + call──▶ guest
 * </pre>
 */
public final class Engine implements AutoCloseable
{
    private final EngineContext context;
    private final EngineCounters counters;
    private final DeviceActor[] actors;
    private final QueuePoller[] pollers;
    private final List<AgentRunner> runners = new ArrayList<>();
    private volatile boolean closing;
    private final List<ThreadWaker> wakers = new ArrayList<>();
    private final List<String> affinity = new CopyOnWriteArrayList<>();
    private final AgentInvoker invoker;
    private int nextActor;
    private int nextPoller;

    private Engine(final EngineContext context)
    {
        this.context = context;
        this.counters = EngineCounters.create(context);
        final ThreadingMode mode = context.threadingMode();
        final boolean inline = mode == ThreadingMode.RUN_TO_COMPLETION;
        actors = new DeviceActor[context.actors()];
        for (int i = 0; i < actors.length; i++)
        {
            actors[i] = new DeviceActor("actor-" + i, context.ringSize(), context.batchLimit(), !inline, counters, context.nanoClock());
        }
        pollers = new QueuePoller[inline ? actors.length : context.pollers()];
        for (int i = 0; i < pollers.length; i++)
        {
            pollers[i] = new QueuePoller("poller-" + i, context.nanoClock(), context.pollWindow(), inline ? actors[i] : null, counters);
        }
        invoker = mode == ThreadingMode.INVOKER ? new AgentInvoker(context.errorHandler(), null, composite(all())) : null;
    }

    /**
     * Builds and starts an engine.
     *
     * @param context the configuration (concluded here if it was not).
     * @return the running engine.
     */
    public static Engine launch(final EngineContext context)
    {
        final Engine engine = new Engine(context.isConcluded() ? context : context.conclude());
        engine.start();
        return engine;
    }

    private List<Agent> all()
    {
        final List<Agent> agents = new ArrayList<>(List.of(pollers));
        agents.addAll(List.of(actors));
        return agents;
    }

    private static Agent composite(final List<? extends Agent> agents)
    {
        return agents.size() == 1 ? agents.getFirst() : new CompositeAgent(new ArrayList<>(agents));
    }

    private void start()
    {
        switch (context.threadingMode())
        {
            case INVOKER -> invoker.start();
            case SHARED ->
            {
                final List<Agent> agents = all();
                run("virtio4j-engine", agents, cpu(context.actorCpus(), 0, context.pollerCpus()));
            }
            case DEDICATED ->
            {
                for (int i = 0; i < pollers.length; i++)
                {
                    run("virtio4j-" + pollers[i].roleName(), List.of(pollers[i]), cpu(context.pollerCpus(), i, new int[0]));
                }
                for (int i = 0; i < actors.length; i++)
                {
                    run("virtio4j-" + actors[i].roleName(), List.of(actors[i]), cpu(context.actorCpus(), i, new int[0]));
                }
            }
            case RUN_TO_COMPLETION ->
            {
                for (int i = 0; i < actors.length; i++)
                {
                    run("virtio4j-rtc-" + i, List.of(pollers[i], actors[i]), cpu(context.actorCpus(), i, new int[0]));
                }
            }
        }
    }

    private static int cpu(final int[] cpus, final int index, final int[] fallback)
    {
        if (index < cpus.length)
        {
            return cpus[index];
        }
        return fallback.length > 0 ? fallback[0] : -1;
    }

    private void run(final String threadName, final List<Agent> agents, final int cpu)
    {
        final ThreadWaker waker = new ThreadWaker();
        wakers.add(waker);
        final List<Sleeper> sleepers = new ArrayList<>();
        for (final Agent agent : agents)
        {
            if (agent instanceof QueuePoller poller)
            {
                poller.waker = waker;
            }
            if (agent instanceof DeviceActor actor)
            {
                actor.waker = waker;
            }
            sleepers.add((Sleeper)agent);
        }
        final IdleStrategy idle = new HybridIdleStrategy(IdleStrategies.create(context.idleStrategy()), sleepers, waker,
            context.sleepTimeoutMillis(), IdleStrategies.adapts(context.idleStrategy()));
        final AgentRunner runner = new AgentRunner(idle, context.errorHandler(), null, composite(agents));
        runners.add(runner);
        final ThreadFactory factory = task -> new Thread(() ->
        {
            pin(threadName, cpu);
            Throwable ended = null;
            try
            {
                task.run();
            }
            catch (final Throwable t)
            {
                ended = t;
                throw t;
            }
            finally
            {
                if (!closing)
                {
                    context.threadDeath().accept(threadName + " ended while the engine runs" + (ended != null ? ": " + ended : ""));
                }
            }
        }, threadName);
        AgentRunner.startOnThread(runner, factory);
    }

    private void pin(final String threadName, final int cpu)
    {
        if (cpu < 0)
        {
            affinity.add(threadName + ": not pinned");
            return;
        }
        final BitSet wanted = new BitSet();
        wanted.set(cpu);
        try
        {
            Linux.setAffinity(wanted);
            final BitSet actual = Linux.getAffinity();
            affinity.add(threadName + ": asked cpu " + cpu + ", kernel gave " + actual);
        }
        catch (final ErrnoException e)
        {
            affinity.add(threadName + ": pinning to cpu " + cpu + " failed: " + e.getMessage());
        }
    }

    /**
     * Attaches an activated device: its queues are polled once the handle is started.
     *
     * @param name   the device's name (in counter labels).
     * @param device the device, already activated with these queues and memory.
     * @param memory the guest's memory.
     * @param queues the device's queues.
     * @param kicks  each queue's kick eventfd (guest to device), or null entries to poll only.
     * @param calls  each queue's call eventfd (device to guest), or null entries for none.
     * @return the handle to control it.
     */
    public synchronized DeviceHandle attach(final String name, final VirtioDevice device, final GuestMemory memory, final SplitQueue[] queues,
        final EventFd[] kicks, final EventFd[] calls)
    {
        if (device instanceof LanedDevice laned && laned.laneCount() == queues.length && queues.length > 1 && actors.length > 1)
        {
            // Independent queues and several actors: each queue is a device of its own on the next actor, so
            // every queue has one owner thread and nothing is shared between them.
            final DeviceHandle[] lanes = new DeviceHandle[queues.length];
            for (int q = 0; q < queues.length; q++)
            {
                lanes[q] = attach(name + "." + q, laned.lane(q), memory, new SplitQueue[] {queues[q]},
                    kicks == null ? null : new EventFd[] {kicks[q]}, calls == null ? null : new EventFd[] {calls[q]});
            }
            return new DeviceHandle(name, device, lanes);
        }
        final int actorIndex = nextActor++ % actors.length;
        final DeviceActor actor = actors[actorIndex];
        final DeviceHandle handle = new DeviceHandle(name, device, actor, counters);
        final QueueBinding[] bindings = new QueueBinding[queues.length];
        for (int q = 0; q < queues.length; q++)
        {
            bindings[q] = new QueueBinding(handle, q, queues[q], memory, kicks == null ? null : kicks[q], calls == null ? null : calls[q], counters);
        }
        handle.bindings = bindings;
        final boolean asynchronous = device instanceof AsyncDevice async && async.asynchronous();
        actor.command(future ->
        {
            actor.attach(handle);
            if (asynchronous)
            {
                actor.addAsync(handle);
            }
            if (device instanceof PolledDevice)
            {
                actor.addPolled(handle);
            }
            future.complete(null);
        });
        for (final QueueBinding binding : bindings)
        {
            final QueuePoller poller = context.threadingMode() == ThreadingMode.RUN_TO_COMPLETION ? pollers[actorIndex]
                : pollers[nextPoller++ % pollers.length];
            binding.poller = poller;
            poller.command(() -> poller.add(binding));
        }
        return handle;
    }

    /**
     * Detaches a stopped device: its queues are no longer polled, its I/O worker stops and its counters are freed.
     * Its eventfds and memory may be released once the returned future completes.
     *
     * @param handle the device.
     * @return a future completed when no engine thread will touch the device again.
     */
    public synchronized CompletableFuture<Void> detach(final DeviceHandle handle)
    {
        if (handle.lanes() != null)
        {
            final CompletableFuture<?>[] lanes = new CompletableFuture<?>[handle.lanes().length];
            for (int i = 0; i < lanes.length; i++)
            {
                lanes[i] = detach(handle.lanes()[i]);
            }
            return CompletableFuture.allOf(lanes);
        }
        final List<CompletableFuture<Void>> pollersDone = new ArrayList<>();
        for (final QueuePoller poller : pollers)
        {
            final CompletableFuture<Void> done = new CompletableFuture<>();
            poller.command(() ->
            {
                poller.remove(handle);
                done.complete(null);
            });
            pollersDone.add(done);
        }
        final CompletableFuture<Void> actorDone = handle.actor().command(future ->
        {
            handle.actor().detach(handle);
            for (final QueueBinding binding : handle.bindings)
            {
                binding.active = false;
            }
            future.complete(null);
        });
        pollersDone.add(actorDone);
        // Once no poller or actor refers to the device, free its counters and stop its worker, off engine threads.
        return CompletableFuture.allOf(pollersDone.toArray(CompletableFuture[]::new)).thenRunAsync(() ->
        {
            for (final QueueBinding binding : handle.bindings)
            {
                binding.close();
            }
            handle.deviceErrors.close();
            if (handle.stats != null)
            {
                handle.stats.close();
            }
        });
    }

    /**
     * Runs one duty cycle of every agent (INVOKER mode only).
     *
     * @return the work done.
     */
    public int invoke()
    {
        if (invoker == null)
        {
            throw new IllegalStateException("invoke() needs threadingMode=INVOKER, not " + context.threadingMode());
        }
        return invoker.invoke();
    }

    /** @return for each engine thread, the CPUs the kernel actually let it run on. */
    public List<String> affinity()
    {
        return List.copyOf(affinity);
    }

    /**
     * Allocates a counter in the engine's counters file, for components around the engine (transports).
     *
     * @param label what it counts.
     * @return the counter, at 0.
     */
    public AtomicCounter newCounter(final String label)
    {
        return counters.newErrorCounter("", label);
    }

    /** @return the engine's threads (empty in INVOKER mode). */
    public List<Thread> threads()
    {
        return runners.stream().map(AgentRunner::thread).toList();
    }

    /** @return the live counters. */
    public CountersReader counters()
    {
        return counters.reader();
    }

    /** @return the counters file another process can read, or null when counters are in memory only. */
    public CountersFile countersFile()
    {
        return counters.file();
    }

    /** @return the configuration. */
    public EngineContext context()
    {
        return context;
    }

    /** Stops every thread (each finishes its duty cycle) and releases the counters. */
    @Override
    public void close()
    {
        closing = true;
        CloseHelper.closeAll(runners);
        CloseHelper.close(invoker);
        CloseHelper.closeAll(wakers);
        counters.close();
    }
}
