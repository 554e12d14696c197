package org.virtio4j.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * The device's cost per chain on the split-queue hot path: take a 3-descriptor chain (header, data, status, as a
 * blk request), walk its descriptors, and add it to the used ring; batches of 32 on a 256-entry queue. The
 * driver's side (staging 32 heads and one release store of avail.idx) is included, spread over the batch.
 *
 * <p>One thread; core budget 1. Checks its own result: every batch must yield 32 chains of 3 descriptors.
 * Run: {@code java -jar bench/target/benchmarks.jar SplitQueuePopAddUsed -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class SplitQueuePopAddUsedBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int BATCH = 32;
    private static final int DESCRIPTORS_PER_CHAIN = 3;

    private MemoryBacking backing;
    private GuestMemory memory;
    private DriverQueue driver;
    private SplitQueue queue;
    private final DescriptorChain chain = new DescriptorChain();
    private final int[] heads = new int[BATCH];

    /** Lays out the queue and builds the 32 chains once; each batch re-offers them. */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        backing = MemoryBacking.anonymous(1 << 20);
        memory = GuestMemory.of(backing.region(0));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        queue = driver.configure(new SplitQueue(QUEUE_SIZE));
        final long data = 0x10000;
        for (int i = 0; i < BATCH; i++)
        {
            final long buffers = data + i * 0x2000L;
            heads[i] = driver.buildChain(
                DriverBuffer.readable(buffers, 16),
                DriverBuffer.writable(buffers + 0x1000, 4096),
                DriverBuffer.writable(buffers + 16, 1));
        }
    }

    /** Unmaps the guest memory. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        backing.close();
    }

    /**
     * One batch: the driver offers 32 chains, the device pops each, walks it and adds it to the used ring.
     *
     * @return the bytes walked, so the work is not dead code.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long popWalkAddUsed()
    {
        final int[] heads = this.heads;
        for (int i = 0; i < BATCH; i++)
        {
            driver.stageAvailable(i, heads[i]);
        }
        driver.publish(BATCH);

        final GuestMemory memory = this.memory;
        final SplitQueue queue = this.queue;
        final DescriptorChain chain = this.chain;
        final AvailIter iter = queue.iter(memory);
        long bytes = 0;
        int chains = 0;
        while (iter.next(chain))
        {
            int descriptors = 0;
            while (chain.next())
            {
                bytes += chain.lenUnsigned();
                descriptors++;
            }
            if (descriptors != DESCRIPTORS_PER_CHAIN)
            {
                throw new IllegalStateException("chain " + chain.headIndex() + " had " + descriptors + " descriptors");
            }
            queue.addUsed(memory, chain.headIndex(), 1);
            chains++;
        }
        if (chains != BATCH)
        {
            throw new IllegalStateException("batch yielded " + chains + " chains");
        }
        return bytes;
    }
}
