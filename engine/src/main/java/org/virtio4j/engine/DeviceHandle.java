package org.virtio4j.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.virtio.QueueState;

/**
 * The control-plane face of a device on the engine: start, stop (draining every request in flight), pause and
 * resume, reset, and snapshot, each sent as a command to the device's actor and completed there. Nothing here
 * touches the device's state directly.
 *
 * <p>Thread-safe: any thread may send commands.
 */
public final class DeviceHandle
{
    static final int CREATED = 0;
    static final int RUNNING = 1;
    static final int PAUSED = 2;
    static final int STOPPED = 3;
    static final int FAILED = 4;
    static final int STOPPING = 5;

    private final String name;
    private final VirtioDevice device;
    private final DeviceActor actor;
    /** The lanes of a device whose queues are served by different actors, or null. */
    private final DeviceHandle[] lanes;
    QueueBinding[] bindings = new QueueBinding[0];
    final AtomicCounter deviceErrors;
    final DeviceStatsPublisher stats;
    private volatile Consumer<DeviceException> errorListener = e -> { };
    private volatile java.util.function.BooleanSupplier memoryShrunk = () -> false;

    /** Actor-owned. */
    int state = CREATED;

    DeviceHandle(final String name, final VirtioDevice device, final DeviceActor actor, final EngineCounters counters)
    {
        this.name = name;
        this.device = device;
        this.actor = actor;
        this.lanes = null;
        this.deviceErrors = counters.newCounter(CounterType.DEVICE_ERRORS, name + " ");
        this.stats = DeviceStatsPublisher.forDevice(device, name, counters);
    }

    /** A device whose queues are lanes on different actors: every command goes to every lane. */
    DeviceHandle(final String name, final VirtioDevice device, final DeviceHandle[] lanes)
    {
        this.name = name;
        this.device = device;
        this.actor = null;
        this.lanes = lanes.clone();
        this.deviceErrors = null;
        this.stats = null;
    }

    /** @return the lanes, or null for a device on one actor. */
    DeviceHandle[] lanes()
    {
        return lanes;
    }

    private CompletableFuture<Void> allLanes(final Function<DeviceHandle, CompletableFuture<Void>> command)
    {
        final CompletableFuture<?>[] futures = new CompletableFuture<?>[lanes.length];
        for (int i = 0; i < lanes.length; i++)
        {
            futures[i] = command.apply(lanes[i]);
        }
        return CompletableFuture.allOf(futures);
    }

    /** @return the device's name (used in counter labels). */
    public String name()
    {
        return name;
    }

    DeviceActor actor()
    {
        return actor;
    }

    /** @return the device. */
    public VirtioDevice device()
    {
        return device;
    }

    /**
     * @param listener told (on the actor's thread) when the device fails and stops; the transport should then
     *                 set DEVICE_NEEDS_RESET.
     */
    public void onError(final Consumer<DeviceException> listener)
    {
        errorListener = listener;
        if (lanes != null)
        {
            for (final DeviceHandle lane : lanes)
            {
                lane.onError(listener);
            }
        }
    }

    /**
     * @param check tells, without touching guest memory, whether the memory behind this device shrank (its files
     *              are shorter than mapped): how an engine thread finds the device of a fault raised late.
     */
    public void memoryShrunk(final java.util.function.BooleanSupplier check)
    {
        memoryShrunk = check;
        if (lanes != null)
        {
            for (final DeviceHandle lane : lanes)
            {
                lane.memoryShrunk(check);
            }
        }
    }

    boolean memoryShrunk()
    {
        try
        {
            return memoryShrunk.getAsBoolean();
        }
        catch (final RuntimeException e)
        {
            return false;
        }
    }

    void fail(final DeviceException e)
    {
        deviceErrors.incrementRelease();
        errorListener.accept(e);
    }

    /** @return a future completed once the device's queues are polled and processed. */
    public CompletableFuture<Void> start()
    {
        return lanes != null ? allLanes(DeviceHandle::start) : actor.command(future -> actor.start(this, future));
    }

    /**
     * Stops taking new work after completing every request already made available: the queues are drained,
     * their used elements written and the driver signalled, then polling stops.
     *
     * @return a future completed when the device is stopped and drained.
     */
    public CompletableFuture<Void> stop()
    {
        return lanes != null ? allLanes(DeviceHandle::stop) : actor.command(future -> actor.stop(this, future));
    }

    /** @return a future completed when polling of the device's queues is paused (requests stay in the rings). */
    public CompletableFuture<Void> pause()
    {
        return lanes != null ? allLanes(DeviceHandle::pause) : actor.command(future -> actor.pause(this, future));
    }

    /** @return a future completed when polling resumes. */
    public CompletableFuture<Void> resume()
    {
        return lanes != null ? allLanes(DeviceHandle::resume) : actor.command(future -> actor.start(this, future));
    }

    /** @return a future completed when the device and its queues are reset (requests made available are dropped unanswered, as virtio reset does). */
    public CompletableFuture<Void> reset()
    {
        return lanes != null ? allLanes(DeviceHandle::reset) : actor.command(future -> actor.reset(this, future));
    }

    /** @return a future with each queue's state, taken on the actor's thread between batches. */
    public CompletableFuture<QueueState[]> snapshot()
    {
        if (lanes == null)
        {
            return actor.command(future -> actor.snapshot(this, future));
        }
        final List<CompletableFuture<QueueState[]>> parts = new ArrayList<>();
        for (final DeviceHandle lane : lanes)
        {
            parts.add(lane.snapshot());
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(done ->
        {
            final QueueState[] states = new QueueState[parts.size()];
            for (int i = 0; i < states.length; i++)
            {
                states[i] = parts.get(i).join()[0];
            }
            return states;
        });
    }

    /** @return the chains completed on a queue so far. */
    long chainsCompleted(final int queue)
    {
        return lanes != null ? lanes[queue].chainsCompleted(0) : bindings[queue].chains.get();
    }

    @Override
    public String toString()
    {
        return "DeviceHandle[" + name + "]";
    }
}
