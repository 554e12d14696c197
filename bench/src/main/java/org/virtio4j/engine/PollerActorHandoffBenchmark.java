package org.virtio4j.engine;

import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.virtio4j.bench.JvmFlags;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.SplitQueue;

/**
 * The poller-to-actor hand-off: the benchmark thread plays the poller and publishes "queue 0 has work" into a
 * {@link DeviceActor}'s Disruptor ring; the actor, busy-spinning on its own thread, takes the event and runs the
 * device's {@code processQueue}, which publishes a sequence number back; the benchmark thread spins until it sees
 * it. The score is that round trip (one hand-off each way; the hand-off alone is about half).
 *
 * <p>Two threads, both spinning; core budget 2 (run nothing else). Checks its own result: every round trip
 * returns the sequence it sent. Run: {@code java -jar bench/target/benchmarks.jar PollerActorHandoff}.
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class PollerActorHandoffBenchmark
{
    /** A device whose "processing" is publishing how many times it was asked. */
    static final class EchoDevice implements VirtioDevice
    {
        volatile long processed;

        @Override
        public int deviceType()
        {
            return 0;
        }

        @Override
        public long deviceFeatures()
        {
            return 0;
        }

        @Override
        public int[] queueMaxSizes()
        {
            return new int[] {1};
        }

        @Override
        public int configSize()
        {
            return 0;
        }

        @Override
        public int readConfig(final int offset, final byte[] data)
        {
            return 0;
        }

        @Override
        public int writeConfig(final int offset, final byte[] data)
        {
            return 0;
        }

        @Override
        public void activate(final GuestMemory memory, final SplitQueue[] queues, final long features, final Interrupt interrupt)
        {
        }

        @Override
        public int queueNotify(final int queue)
        {
            return 0;
        }

        @Override
        @SuppressWarnings("NonAtomicVolatileUpdate")
        public int processQueue(final int queue)
        {
            processed = processed + 1;
            return 0;
        }

        @Override
        public void reset()
        {
        }
    }

    private final EchoDevice device = new EchoDevice();
    private DeviceActor actor;
    private QueueBinding binding;
    private AgentRunner runner;
    private EngineCounters counters;
    private long sent;

    /** Starts the actor on its own busy-spinning thread. */
    @Setup(Level.Trial)
    public void setUp()
    {
        counters = EngineCounters.create(new EngineContext().countersEnabled(false).conclude());
        actor = new DeviceActor("actor-0", 1024, 64, true, counters, org.agrona.concurrent.SystemNanoClock.INSTANCE);
        final DeviceHandle handle = new DeviceHandle("echo", device, actor, counters);
        binding = new QueueBinding(handle, 0, new SplitQueue(1), null, null, null, counters);
        handle.bindings = new QueueBinding[] {binding};
        actor.attach(handle);
        binding.active = true;
        runner = new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, actor);
        AgentRunner.startOnThread(runner);
    }

    /** Stops the actor thread. */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        runner.close();
        counters.close();
    }

    /**
     * One round trip through the ring.
     *
     * @return the sequence seen.
     */
    @Benchmark
    public long roundTrip()
    {
        final long expected = ++sent;
        while (!actor.publish(QueueEvent.WORK, binding, (int)expected))
        {
            Thread.onSpinWait();
        }
        long seen;
        while ((seen = device.processed) < expected)
        {
            Thread.onSpinWait();
        }
        if (seen != expected)
        {
            throw new IllegalStateException("expected " + expected + " processed, saw " + seen);
        }
        return seen;
    }
}
