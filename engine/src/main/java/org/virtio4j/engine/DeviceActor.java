package org.virtio4j.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.InsufficientCapacityException;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.YieldingWaitStrategy;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.AsyncDevice;
import org.virtio4j.devices.core.PolledDevice;
import org.virtio4j.memory.linux.FdPoller;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.QueueState;

/**
 * A device actor: the single writer of its devices' used rings and state. It takes "queue Q has entries up to
 * index N" events from its Disruptor ring in batches, processes the queue's chains in guest memory, and at the
 * end of each batch decides once per queue, with the event-idx rules, whether to signal the driver. Control
 * commands (start, stop, pause, reset, snapshot) arrive on a separate queue and run between batches.
 *
 * <p>In run-to-completion mode there is no ring: the poller on the same thread calls {@link #onWork} and
 * {@link #endOfBatch} directly.
 */
final class DeviceActor implements Agent, Sleeper, EventPoller.Handler<QueueEvent>
{
    private static final int COMMAND_LIMIT = 16;
    private static final int DRAIN_LIMIT = 1 << 20;

    private final String name;
    private final NanoClock clock;
    private final int batchLimit;
    private final RingBuffer<QueueEvent> ring;
    private final EventPoller<QueueEvent> ringPoller;
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(1024);
    private final AtomicCounter batches;
    ThreadWaker waker;
    private QueueBinding[] touched = new QueueBinding[16];
    /** The devices attached to this actor. */
    private final List<DeviceHandle> attached = new ArrayList<>();
    /** Queues of the devices attached to this actor. */
    private int attachedBindings;
    private int touchedCount;
    private int eventsThisBatch;
    private DeviceHandle[] async = new DeviceHandle[0];
    private DeviceHandle[] polled = new DeviceHandle[0];
    private int[] completedPerQueue = new int[1];
    private final List<Runnable> waitingForInFlight = new ArrayList<>();
    /** The device whose memory or queues this actor touched last (a late memory fault is its failure). */
    private DeviceHandle current;

    DeviceActor(final String name, final int ringSize, final int batchLimit, final boolean withRing, final EngineCounters counters,
        final NanoClock clock)
    {
        this.name = name;
        this.clock = clock;
        this.batchLimit = batchLimit;
        if (withRing)
        {
            ring = RingBuffer.createMultiProducer(QueueEvent::new, ringSize, new YieldingWaitStrategy());
            ringPoller = ring.newPoller();
            ring.addGatingSequences(ringPoller.getSequence());
        }
        else
        {
            ring = null;
            ringPoller = null;
        }
        batches = counters.newCounter(CounterType.BATCHES, name + " ");
    }

    @Override
    public String roleName()
    {
        return name;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Data path
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Publishes an event into this actor's ring (called by pollers on their threads).
     *
     * @return false if the ring was full (the caller retries on its next duty cycle).
     */
    boolean publish(final int type, final QueueBinding binding, final int availIdx)
    {
        final long sequence;
        try
        {
            sequence = ring.tryNext();
        }
        catch (final InsufficientCapacityException e)
        {
            binding.ringFull.incrementRelease();
            return false;
        }
        ring.get(sequence).set(type, binding, availIdx);
        ring.publish(sequence);
        return true;
    }

    @Override
    public int doWork() throws Exception
    {
        try
        {
            return work();
        }
        catch (final InternalError | RuntimeException e)
        {
            // A fault on guest memory in compiled code is raised at the next safepoint poll, which may lie outside
            // the try of the code that touched the memory: it is the failure of the device touched last.
            // Which device: the one whose memory shrank, asked of its files; else the device touched last.
            final DeviceHandle last = current;
            if (!DeviceFailure.isMemoryFault(e) || last == null)
            {
                throw e;
            }
            final DeviceException failure = DeviceFailure.of(DeviceFailure.memoryFault(e));
            boolean found = false;
            for (final DeviceHandle device : attached)
            {
                if (device.state != DeviceHandle.FAILED && device.memoryShrunk())
                {
                    failDevice(device, failure);
                    found = true;
                }
            }
            if (!found)
            {
                failDevice(last, failure);
            }
            recoverTouched();
            return 1;
        }
    }

    /** Takes back the queues an interrupted {@link #endOfBatch} had not decided yet, and decides them. */
    private void recoverTouched()
    {
        int kept = 0;
        for (int i = 0; i < touched.length; i++)
        {
            final QueueBinding binding = touched[i];
            touched[i] = null;
            if (binding != null)
            {
                touched[kept++] = binding;
            }
        }
        touchedCount = kept;
        endOfBatch();
    }

    private int work() throws Exception
    {
        int work = runCommands();
        if (async.length > 0)
        {
            work += drainAsync();
        }
        if (polled.length > 0)
        {
            work += pollDevices();
        }
        if (ringPoller != null)
        {
            eventsThisBatch = 0;
            ringPoller.poll(this);
            if (eventsThisBatch > 0)
            {
                batches.incrementRelease();
                work += eventsThisBatch;
                endOfBatch();
            }
        }
        return work;
    }

    @Override
    public boolean onEvent(final QueueEvent event, final long sequence, final boolean endOfBatch)
    {
        final QueueBinding binding = event.binding;
        event.binding = null;
        if (event.type == QueueEvent.ARM)
        {
            onArm(binding);
        }
        else
        {
            onWork(binding);
        }
        return ++eventsThisBatch < batchLimit;
    }

    /** Adds the used elements of requests whose I/O finished; runs control steps that waited for them. */
    private int drainAsync()
    {
        int work = 0;
        for (final DeviceHandle device : async)
        {
            current = device;
            final AsyncDevice asyncDevice = (AsyncDevice)device.device();
            final int[] counts = completedPerQueue;
            final int drained;
            try
            {
                drained = asyncDevice.drainCompletions(counts, device.state == DeviceHandle.RUNNING);
            }
            catch (final DeviceException | RuntimeException | InternalError e)
            {
                Arrays.fill(counts, 0);
                failDevice(device, DeviceFailure.of(e));
                continue;
            }
            if (drained == 0)
            {
                continue;
            }
            work += drained;
            touchCompleted(device, counts);
            for (final QueueBinding binding : device.bindings)
            {
                if (binding.armed && binding.active)
                {
                    // A backlog taken while the guest may kick: ask it again from where the queue now is.
                    rearm(binding);
                }
            }
        }
        if (work > 0)
        {
            endOfBatch();
        }
        if (!waitingForInFlight.isEmpty())
        {
            for (int i = waitingForInFlight.size() - 1; i >= 0; i--)
            {
                waitingForInFlight.get(i).run();
            }
        }
        return work;
    }

    /** Forgets a detached device: its bindings may still sit in the touched list of an interrupted batch. */
    void detach(final DeviceHandle device)
    {
        attachedBindings -= device.bindings.length;
        attached.remove(device);
        if (current == device)
        {
            current = null;
        }
        async = Arrays.stream(async).filter(d -> d != device).toArray(DeviceHandle[]::new);
        polled = Arrays.stream(polled).filter(d -> d != device).toArray(DeviceHandle[]::new);
        int kept = 0;
        for (int i = 0; i < touchedCount; i++)
        {
            final QueueBinding binding = touched[i];
            touched[i] = null;
            if (binding.device != device)
            {
                touched[kept++] = binding;
            }
            else
            {
                binding.touched = false;
            }
        }
        touchedCount = kept;
        waitingForInFlight.removeIf(step -> step instanceof InFlightWait wait && wait.device == device);
    }

    /** Polls the devices with outside work (host sockets): what they complete is signalled at the batch end. */
    private int pollDevices()
    {
        int work = 0;
        for (final DeviceHandle device : polled)
        {
            if (device.state != DeviceHandle.RUNNING)
            {
                continue;
            }
            current = device;
            final int[] counts = completedPerQueue;
            try
            {
                work += ((PolledDevice)device.device()).poll(counts);
            }
            catch (final DeviceException | RuntimeException | InternalError e)
            {
                Arrays.fill(counts, 0);
                failDevice(device, DeviceFailure.of(e));
                continue;
            }
            touchCompleted(device, counts);
        }
        if (touchedCount > 0)
        {
            endOfBatch();
        }
        return work;
    }

    private void touchCompleted(final DeviceHandle device, final int[] counts)
    {
        long now = 0;
        for (int q = 0; q < device.bindings.length; q++)
        {
            final int completed = counts[q];
            if (completed > 0)
            {
                counts[q] = 0;
                final QueueBinding binding = device.bindings[q];
                binding.chains.getAndAddRelease(completed);
                binding.completedSinceSignal += completed;
                // A completion is activity: the guest will answer it soon, so its poll window starts again.
                if (now == 0)
                {
                    now = clock.nanoTime();
                }
                binding.lastCompletionNanos = now;
                if (!binding.touched)
                {
                    binding.touched = true;
                    touched[touchedCount++] = binding;
                }
            }
        }
    }

    void addPolled(final DeviceHandle device)
    {
        polled = Arrays.copyOf(polled, polled.length + 1);
        polled[polled.length - 1] = device;
        if (completedPerQueue.length < device.bindings.length)
        {
            completedPerQueue = new int[device.bindings.length];
        }
    }

    void addAsync(final DeviceHandle device)
    {
        async = Arrays.copyOf(async, async.length + 1);
        async[async.length - 1] = device;
        if (completedPerQueue.length < device.bindings.length)
        {
            completedPerQueue = new int[device.bindings.length];
        }
    }

    private static int inFlight(final DeviceHandle device)
    {
        return device.device() instanceof AsyncDevice asyncDevice ? asyncDevice.inFlight() : 0;
    }

    /** Runs {@code step} once the device has no request in flight (at once if it has none now). */
    private void whenIdle(final DeviceHandle device, final Runnable step)
    {
        if (inFlight(device) == 0)
        {
            step.run();
            return;
        }
        waitingForInFlight.add(new InFlightWait(device, step));
    }

    /** A control step waiting until a device has nothing in flight. */
    private final class InFlightWait implements Runnable
    {
        final DeviceHandle device;
        final Runnable step;

        InFlightWait(final DeviceHandle device, final Runnable step)
        {
            this.device = device;
            this.step = step;
        }

        @Override
        public void run()
        {
            if (inFlight(device) == 0)
            {
                waitingForInFlight.remove(this);
                step.run();
            }
        }
    }

    /** Processes what is available on a queue. */
    void onWork(final QueueBinding binding)
    {
        if (!binding.active)
        {
            return;
        }
        if (binding.armed)
        {
            // The queue was sleeping on its kick eventfd: suppress kicks again while we poll.
            binding.armed = false;
            disableNotification(binding);
        }
        process(binding);
    }

    /** Re-enables guest notifications on an idle queue; processes at once if work slipped in. */
    void onArm(final QueueBinding binding)
    {
        if (!binding.active)
        {
            return;
        }
        binding.armed = true;
        rearm(binding);
    }

    /**
     * Re-enables notifications on an armed queue and processes what slipped in, until nothing did: processing
     * moves the next avail index past the event index just published, so the guest must be asked again.
     */
    private void rearm(final QueueBinding binding)
    {
        for (int i = 0; i < DRAIN_LIMIT && binding.active; i++)
        {
            current = binding.device;
            boolean more;
            try
            {
                more = binding.queue.enableNotification(binding.memory);
            }
            catch (final QueueException e)
            {
                more = false;
            }
            catch (final InternalError e)
            {
                failDevice(binding.device, DeviceFailure.of(e));
                return;
            }
            if (!more)
            {
                return;
            }
            process(binding);
        }
    }

    private void process(final QueueBinding binding)
    {
        current = binding.device;
        final int completed;
        try
        {
            completed = binding.device.device().processQueue(binding.queueIndex);
        }
        catch (final DeviceException | RuntimeException | InternalError e)
        {
            failDevice(binding.device, DeviceFailure.of(e));
            return;
        }
        binding.batchEvents.incrementPlain();
        if (completed > 0)
        {
            binding.chains.getAndAddRelease(completed);
            binding.completedSinceSignal += completed;
        }
        if (!binding.touched)
        {
            binding.touched = true;
            touched[touchedCount++] = binding;
        }
    }

    /** At the end of a batch: one notification decision per touched queue, and the device statistics. */
    void endOfBatch()
    {
        final int count = touchedCount;
        touchedCount = 0;
        for (int i = 0; i < count; i++)
        {
            final QueueBinding binding = touched[i];
            touched[i] = null;
            binding.touched = false;
            current = binding.device;
            binding.batches.incrementRelease();
            try
            {
                binding.decideNotification();
            }
            catch (final InternalError e)
            {
                failDevice(binding.device, DeviceFailure.of(e));
            }
            final DeviceStatsPublisher stats = binding.device.stats;
            if (stats != null)
            {
                stats.publish();
            }
        }
    }

    private void disableNotification(final QueueBinding binding)
    {
        current = binding.device;
        try
        {
            binding.queue.disableNotification(binding.memory);
        }
        catch (final QueueException e)
        {
            // The ring is unreadable: the next processing reports it as a device error.
        }
        catch (final InternalError e)
        {
            failDevice(binding.device, DeviceFailure.of(e));
        }
    }

    /**
     * Stops a device whose guest, front-end or back-end did what needs a reset: its queues are no longer polled
     * or processed, and the transport is told once (until the device is reset).
     */
    private void failDevice(final DeviceHandle device, final DeviceException e)
    {
        final boolean first = device.state != DeviceHandle.FAILED;
        device.state = DeviceHandle.FAILED;
        for (final QueueBinding binding : device.bindings)
        {
            binding.active = false;
        }
        if (first)
        {
            device.fail(e);
        }
    }

    /**
     * A poller could not read a queue's ring (a guest memory fault): the device fails on this actor's thread,
     * between batches.
     */
    void failLater(final QueueBinding binding, final Throwable cause)
    {
        final DeviceHandle device = binding.device;
        final Runnable fail = () ->
        {
            // Not once it stopped: its connection is going, and the next one must not be told of this.
            if (device.state == DeviceHandle.RUNNING || device.state == DeviceHandle.PAUSED || device.state == DeviceHandle.STOPPING)
            {
                failDevice(device, DeviceFailure.of(cause));
            }
        };
        if (!commands.offer(fail))
        {
            // The command queue is full of control steps: the actor's own next access to the ring fails it.
            return;
        }
        if (waker != null)
        {
            waker.wake();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Control plane
    // ---------------------------------------------------------------------------------------------------------------

    <T> CompletableFuture<T> command(final Consumer<CompletableFuture<T>> body)
    {
        final CompletableFuture<T> future = new CompletableFuture<>();
        final Runnable command = () ->
        {
            try
            {
                body.accept(future);
            }
            catch (final RuntimeException | InternalError e)
            {
                future.completeExceptionally(e);
            }
        };
        if (!commands.offer(command))
        {
            future.completeExceptionally(new IllegalStateException("actor " + name + " command queue full"));
            return future;
        }
        if (waker != null)
        {
            waker.wake();
        }
        return future;
    }

    private int runCommands()
    {
        int done = 0;
        Runnable command;
        while (done < COMMAND_LIMIT && (command = commands.poll()) != null)
        {
            command.run();
            done++;
        }
        return done;
    }

    void attach(final DeviceHandle device)
    {
        // Room for every queue of every attached device, and no more: a VMM that reconfigures in a loop (each
        // time a detach and an attach) must not grow it.
        attachedBindings += device.bindings.length;
        attached.add(device);
        if (touched.length < attachedBindings)
        {
            touched = Arrays.copyOf(touched, attachedBindings);
        }
    }

    /** @return the capacity of the list of queues touched in a batch (for tests). */
    int touchedCapacity()
    {
        return touched.length;
    }

    void start(final DeviceHandle device, final CompletableFuture<Void> done)
    {
        if (device.state == DeviceHandle.FAILED)
        {
            done.completeExceptionally(new IllegalStateException(device.name() + " failed: reset it first"));
            return;
        }
        for (final QueueBinding binding : device.bindings)
        {
            binding.armed = false;
            // A queue the driver never made ready has no rings: never touch its (zero) addresses, never poll it.
            if (binding.queue.ready())
            {
                disableNotification(binding);
                binding.active = true;
            }
        }
        if (device.state == DeviceHandle.FAILED)
        {
            for (final QueueBinding binding : device.bindings)
            {
                binding.active = false;
            }
            done.completeExceptionally(new IllegalStateException(device.name() + " failed as it started: reset it first"));
            return;
        }
        device.state = DeviceHandle.RUNNING;
        for (final QueueBinding binding : device.bindings)
        {
            // Its poller may be asleep with no fd of this queue in its set: wake it to start watching.
            final QueuePoller poller = binding.poller;
            if (binding.active && poller != null && poller.waker != null)
            {
                poller.waker.wakeIfSleeping();
            }
        }
        done.complete(null);
    }

    void stop(final DeviceHandle device, final CompletableFuture<Void> done)
    {
        if (device.state == DeviceHandle.RUNNING || device.state == DeviceHandle.PAUSED)
        {
            for (final QueueBinding binding : device.bindings)
            {
                for (int i = 0; i < DRAIN_LIMIT && device.state != DeviceHandle.FAILED; i++)
                {
                    final long before = binding.chains.get();
                    process(binding);
                    if (binding.chains.get() == before)
                    {
                        break;
                    }
                }
            }
            endOfBatch();
        }
        for (final QueueBinding binding : device.bindings)
        {
            binding.active = false;
        }
        if (device.state != DeviceHandle.FAILED)
        {
            // Requests already taken complete; no more are taken.
            device.state = DeviceHandle.STOPPING;
        }
        whenIdle(device, () ->
        {
            if (device.state != DeviceHandle.FAILED)
            {
                device.state = DeviceHandle.STOPPED;
            }
            done.complete(null);
        });
    }

    void pause(final DeviceHandle device, final CompletableFuture<Void> done)
    {
        for (final QueueBinding binding : device.bindings)
        {
            binding.active = false;
        }
        if (device.state == DeviceHandle.RUNNING)
        {
            device.state = DeviceHandle.PAUSED;
        }
        done.complete(null);
    }

    void reset(final DeviceHandle device, final CompletableFuture<Void> done)
    {
        for (final QueueBinding binding : device.bindings)
        {
            binding.active = false;
        }
        // Requests in flight finish first: neither the device nor the kernel may touch guest memory after reset.
        whenIdle(device, () ->
        {
            for (final QueueBinding binding : device.bindings)
            {
                binding.completedSinceSignal = 0;
                binding.queue.reset();
            }
            device.device().reset();
            device.state = DeviceHandle.CREATED;
            done.complete(null);
        });
    }

    void snapshot(final DeviceHandle device, final CompletableFuture<QueueState[]> done)
    {
        final QueueState[] states = new QueueState[device.bindings.length];
        for (int i = 0; i < states.length; i++)
        {
            states[i] = device.bindings[i].queue.state();
        }
        done.complete(states);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Sleeping
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public boolean canSleep()
    {
        if (!commands.isEmpty() || !waitingForInFlight.isEmpty() || ring != null && ring.getCursor() != ringPoller.getSequence().get())
        {
            return false;
        }
        for (final DeviceHandle device : async)
        {
            if (((AsyncDevice)device.device()).hasCompletions())
            {
                return false;
            }
        }
        for (final DeviceHandle device : polled)
        {
            if (device.state == DeviceHandle.RUNNING && ((PolledDevice)device.device()).busy())
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public void addWakeFds(final FdPoller poller)
    {
        for (final DeviceHandle device : async)
        {
            ((AsyncDevice)device.device()).addCompletionFds(poller::add);
        }
        for (final DeviceHandle device : polled)
        {
            if (device.state == DeviceHandle.RUNNING)
            {
                final PolledDevice polledDevice = (PolledDevice)device.device();
                polledDevice.addWakeFds(poller::add);
                polledDevice.addWriteWakeFds(poller::addWritable);
            }
        }
    }
}
