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
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * vm-virtio's five virtio-queue criterion shapes, for a like-for-like comparison: queue size 256 in 4 GiB of guest
 * memory; walk one chain of 128 descriptors (direct, and through an indirect table), walk 128 chains of one
 * descriptor (direct, and each indirect), and 128 add-used calls. Scores are per descriptor, per chain or per
 * call, as in ../shared/reference/benchmarks.md.
 *
 * <p>One thread; core budget 1. Checks its own results (descriptor and chain counts).
 * Run: {@code java -jar bench/target/benchmarks.jar SplitQueueWalk -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class SplitQueueWalkBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int COUNT = 128;
    private static final long GUEST_BYTES = 4L << 30;
    private static final long TABLES = 0x20_0000;

    private MemoryBacking backing;
    private GuestMemory memory;
    private final DescriptorChain chain = new DescriptorChain();

    private DriverQueue longDirect;
    private SplitQueue longDirectQueue;
    private DriverQueue longIndirect;
    private SplitQueue longIndirectQueue;
    private DriverQueue manyDirect;
    private SplitQueue manyDirectQueue;
    private DriverQueue manyIndirect;
    private SplitQueue manyIndirectQueue;
    private SplitQueue usedQueue;
    private final int[] manyDirectHeads = new int[COUNT];
    private final int[] manyIndirectHeads = new int[COUNT];
    private int longDirectHead;
    private int longIndirectHead;

    /** Builds the four queues' chains once; each invocation re-offers them. */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        backing = MemoryBacking.anonymous(GUEST_BYTES);
        memory = GuestMemory.of(backing.region(0));
        final DriverBuffer[] buffers = new DriverBuffer[COUNT];
        for (int i = 0; i < COUNT; i++)
        {
            buffers[i] = DriverBuffer.readable(0x1000_0000L + i * 0x1000L, 0x1000);
        }
        longDirect = new DriverQueue(memory, 0x0, QUEUE_SIZE);
        longDirectQueue = longDirect.configure(new SplitQueue(QUEUE_SIZE));
        longDirectHead = longDirect.buildChain(buffers);

        longIndirect = new DriverQueue(memory, 0x1_0000, QUEUE_SIZE);
        longIndirectQueue = longIndirect.configure(new SplitQueue(QUEUE_SIZE));
        longIndirectHead = longIndirect.addIndirectChain(TABLES, buffers);
        longIndirect.setAvailIdx(0);

        manyDirect = new DriverQueue(memory, 0x2_0000, QUEUE_SIZE);
        manyDirectQueue = manyDirect.configure(new SplitQueue(QUEUE_SIZE));
        manyIndirect = new DriverQueue(memory, 0x3_0000, QUEUE_SIZE);
        manyIndirectQueue = manyIndirect.configure(new SplitQueue(QUEUE_SIZE));
        for (int i = 0; i < COUNT; i++)
        {
            manyDirectHeads[i] = manyDirect.buildChain(buffers[i]);
            manyIndirectHeads[i] = manyIndirect.addIndirectChain(TABLES + 0x1_0000 + i * (long)DescriptorLayout.SIZE, buffers[i]);
        }
        manyIndirect.setAvailIdx(0);

        usedQueue = new DriverQueue(memory, 0x4_0000, QUEUE_SIZE).configure(new SplitQueue(QUEUE_SIZE));
    }

    /** Unmaps the guest memory. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        backing.close();
    }

    private int walkOne(final DriverQueue driver, final SplitQueue queue, final int head)
    {
        driver.stageAvailable(0, head);
        driver.publish(1);
        final AvailIter iter = queue.iter(memory);
        int descriptors = 0;
        while (iter.next(chain))
        {
            while (chain.next())
            {
                descriptors++;
            }
        }
        if (descriptors != COUNT)
        {
            throw new IllegalStateException("walked " + descriptors + " descriptors");
        }
        return descriptors;
    }

    private int walkMany(final DriverQueue driver, final SplitQueue queue, final int[] heads)
    {
        for (int i = 0; i < COUNT; i++)
        {
            driver.stageAvailable(i, heads[i]);
        }
        driver.publish(COUNT);
        final AvailIter iter = queue.iter(memory);
        int chains = 0;
        while (iter.next(chain))
        {
            while (chain.next())
            {
                chains++;
            }
        }
        if (chains != COUNT)
        {
            throw new IllegalStateException("walked " + chains + " chains");
        }
        return chains;
    }

    /** @return descriptors walked: one chain of 128 direct descriptors (score per descriptor). */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public int singleChainDirect()
    {
        return walkOne(longDirect, longDirectQueue, longDirectHead);
    }

    /** @return descriptors walked: one chain through an indirect table of 128 (score per descriptor). */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public int singleChainIndirect()
    {
        return walkOne(longIndirect, longIndirectQueue, longIndirectHead);
    }

    /** @return chains walked: 128 chains of one direct descriptor (score per chain). */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public int multipleChainsDirect()
    {
        return walkMany(manyDirect, manyDirectQueue, manyDirectHeads);
    }

    /** @return chains walked: 128 chains of one descriptor each through an indirect table (score per chain). */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public int multipleChainsIndirect()
    {
        return walkMany(manyIndirect, manyIndirectQueue, manyIndirectHeads);
    }

    /** @return the next used index: 128 add-used calls (score per call). */
    @Benchmark
    @OperationsPerInvocation(COUNT)
    public int addUsed()
    {
        final SplitQueue queue = usedQueue;
        final GuestMemory memory = this.memory;
        for (int i = 0; i < COUNT; i++)
        {
            queue.addUsed(memory, i, 0x1000);
        }
        return queue.nextUsed();
    }
}
