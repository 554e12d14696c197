package org.virtio4j.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.virtio4j.devices.blk.BlkBackend;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.NullBackend;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.engine.DeviceHandle;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * The run-to-completion cost of one 4 KiB read through the whole engine path, on one thread: the guest offers a
 * request and publishes avail.idx; one engine duty cycle polls avail.idx, processes the chain (parse, range
 * checks, copy from the disk, status, used element), and makes the batch-end notification decision (EVENT_IDX,
 * suppressed: a polling guest); the guest reaps the used element.
 *
 * <p>One thread (INVOKER mode); core budget 1. Checks its own result: every request completes with status OK.
 * Run: {@code java -jar bench/target/benchmarks.jar EngineRunToCompletion -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class EngineRunToCompletionBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final long HEADER = 0x8000;
    private static final long STATUS = HEADER + 16;
    private static final long DATA = 0x10_0000;

    @Param({"ram", "null"})
    public String backend;

    private MemoryBacking backing;
    private GuestMemory memory;
    private DriverQueue driver;
    private BlkBackend disk;
    private Engine engine;
    private EventFd kick;
    private EventFd call;
    private int head;
    private long sector;

    /** One blk device on the engine in INVOKER mode; one request chain built once and re-offered. */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        backing = MemoryBacking.memfd("bench-guest", 4L << 20);
        memory = GuestMemory.of(backing.region(0));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        final SplitQueue queue = driver.configure(new SplitQueue(QUEUE_SIZE));
        queue.setEventIdx(true);
        // The guest polls: it asks for a call only after 30000 more completions.
        driver.setUsedEvent(30000);
        disk = "ram".equals(backend) ? new RamBackend(64L << 20) : new NullBackend(64L << 20);
        final BlkDevice device = new BlkDevice(disk, BlkOptions.defaults().withQueueSize(QUEUE_SIZE));
        final SplitQueue[] queues = {queue};
        device.activate(memory, queues, device.deviceFeatures(), new Interrupt()
        {
            @Override
            public void signalUsedBuffers(final int q)
            {
            }

            @Override
            public void signalConfigChange()
            {
            }
        });
        kick = EventFd.create();
        call = EventFd.create();
        engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.INVOKER).countersEnabled(false).hybridIdleNanos(0));
        final DeviceHandle handle = engine.attach("blk0", device, memory, queues, new EventFd[] {kick}, new EventFd[] {call});
        handle.start();
        for (int i = 0; i < 4; i++)
        {
            engine.invoke();
        }
        memory.putU32(HEADER, VirtioBlk.T_IN);
        head = driver.buildChain(DriverBuffer.readable(HEADER, 16), DriverBuffer.writable(DATA, 4096), DriverBuffer.writable(STATUS, 1));
    }

    /** Stops the engine and frees memory. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        engine.close();
        kick.close();
        call.close();
        disk.close();
        backing.close();
    }

    /**
     * One request, offered, processed by one engine duty cycle, reaped.
     *
     * @return the used length, so the work is not dead code.
     */
    @Benchmark
    public int request4k()
    {
        memory.putU64(HEADER + 8, sector);
        sector = (sector + 8) & ((64L << 20) / 512 - 1);
        driver.makeAvailable(head);
        engine.invoke();
        if (!driver.pollUsed(false) || memory.getU8(STATUS) != VirtioBlk.S_OK)
        {
            throw new IllegalStateException("request did not complete in one duty cycle");
        }
        return driver.lastUsedLen();
    }
}
