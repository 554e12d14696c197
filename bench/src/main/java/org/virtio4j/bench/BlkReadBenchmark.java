package org.virtio4j.bench;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
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
import org.virtio4j.devices.blk.FileDisk;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.DirtyLog;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.virtio.InflightLayout;
import org.virtio4j.virtio.InflightQueue;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * virtio-blk 4 KiB reads: per request, pop the chain, parse header/data/status, check the range, read 4 KiB from
 * the disk into guest memory, write the status and add the used element; batches of 32 on a 256-entry queue. The
 * disk is the RAM backend or an image file (in the page cache: this measures our path, not the device) through
 * io_uring, the I/O threads, or tmpfs copies; the asynchronous ones are drained as the actor drains them.
 *
 * <p>One thread; core budget 1. Checks its own result: every batch completes 32 requests with status OK and used
 * length 4097.
 * Run: {@code java -jar bench/target/benchmarks.jar BlkRead -prof gc}; the dirty log's cost:
 * {@code ... BlkRead -p backend=ram,io_uring -p dirtyLog=off,on -p inflight=off}; inflight tracking's: {@code -p inflight=off,on}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class BlkReadBenchmark
{
    private static final int QUEUE_SIZE = 256;
    private static final int BATCH = 32;
    private static final int BLOCK = 4096;
    private static final long DISK = 64L << 20;
    private static final long DATA = 0x10_0000;

    private MemoryBacking backing;
    private GuestMemory memory;
    private DriverQueue driver;
    private SplitQueue queue;
    /**
     * The disk: {@code ram}; an image file in the page cache of the disk's file system served through io_uring
     * ({@code io_uring}) or the I/O threads ({@code threads}); an image file on tmpfs, copied on the actor
     * ({@code tmpfs}).
     */
    @Param({"ram", "io_uring", "threads", "tmpfs"})
    public String backend;

    /**
     * {@code on}: a migration in progress, every store the device makes into guest memory (data, status, used
     * ring) marked in a dirty log (the VMM's clearing of the log is not part of the figure).
     */
    @Param({"off", "on"})
    public String dirtyLog;

    /** {@code on}: every chain marked in and out of an inflight region (vhost-user reconnect tracking). */
    @Param({"off", "on"})
    public String inflight;

    private BlkBackend disk;
    private Path image;
    private BlkDevice device;
    private final int[] heads = new int[BATCH];
    private final int[] completedPerQueue = new int[1];
    private final long[] statusAddrs = new long[BATCH];
    private long sector;

    /** Builds the 32 request chains once (header, 4 KiB data, status); each batch re-offers them at new sectors. */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        backing = MemoryBacking.anonymous(4L << 20);
        memory = GuestMemory.of(backing.region(0));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        queue = driver.configure(new SplitQueue(QUEUE_SIZE));
        if (inflight.equals("on"))
        {
            final InflightQueue tracking = new InflightQueue(Arena.ofAuto().allocate(InflightLayout.queueBytes(QUEUE_SIZE), 64), QUEUE_SIZE);
            tracking.recover(0);
            queue.trackInflight(tracking);
        }
        disk = switch (backend)
        {
            case "io_uring" -> new FileDisk(image(Path.of(System.getProperty("java.io.tmpdir"))), FileDisk.Options.defaults());
            case "threads" -> new FileDisk(image(Path.of(System.getProperty("java.io.tmpdir"))),
                FileDisk.Options.defaults().withAio(FileDisk.Aio.THREADS));
            case "tmpfs" -> new FileDisk(image(Path.of("/dev/shm")), FileDisk.Options.defaults());
            default -> new RamBackend(DISK);
        };
        device = new BlkDevice(disk, BlkOptions.defaults());
        final SplitQueue[] queues = {queue};
        final GuestMemory deviceMemory = dirtyLog.equals("on")
            ? memory.withDirtyLog(new DirtyLog(Arena.ofAuto().allocate(4096, 8), pages -> { }, pages -> { })) : memory;
        device.activate(deviceMemory, queues, device.deviceFeatures(), new Interrupt()
        {
            @Override
            public void signalUsedBuffers(final int queue)
            {
            }

            @Override
            public void signalConfigChange()
            {
            }
        });
        for (int i = 0; i < BATCH; i++)
        {
            final long header = 0x8000 + i * 32L;
            memory.putU32(header, VirtioBlk.T_IN);
            statusAddrs[i] = header + 16;
            heads[i] = driver.buildChain(
                DriverBuffer.readable(header, 16),
                DriverBuffer.writable(DATA + (long)i * BLOCK, BLOCK),
                DriverBuffer.writable(statusAddrs[i], 1));
        }
        if (!VirtioFeatures.has(device.deviceFeatures(), VirtioBlk.F_FLUSH))
        {
            throw new IllegalStateException("device does not offer FLUSH");
        }
    }

    /** An image of written (not sparse) blocks, so reads come from the page cache. */
    private Path image(final Path dir) throws IOException
    {
        image = Files.createTempFile(dir, "virtio4j-bench", ".img");
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.WRITE))
        {
            final ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < DISK; at += block.capacity())
            {
                block.clear();
                channel.write(block, at);
            }
        }
        return image;
    }

    /** Frees the disk, deletes its image and unmaps the guest memory. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        device.closeAsync();
        disk.close();
        backing.close();
        if (image != null)
        {
            Files.delete(image);
        }
    }

    /**
     * One batch of 32 reads.
     *
     * @return the used index, so the work is not dead code.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int read4k() throws DeviceException
    {
        final long sectorsOnDisk = DISK / VirtioBlk.SECTOR_SIZE;
        for (int i = 0; i < BATCH; i++)
        {
            memory.putU64(0x8000 + i * 32L + 8, sector);
            sector = (sector + BLOCK / VirtioBlk.SECTOR_SIZE) % sectorsOnDisk;
            memory.putU8(statusAddrs[i], 0xff);
            driver.stageAvailable(i, heads[i]);
        }
        final int before = queue.nextUsed();
        driver.publish(BATCH);
        int completed = device.processAvailable(queue);
        // Asynchronous backends complete in the actor's later duty cycles: drain as the actor would.
        while (completed < BATCH)
        {
            completedPerQueue[0] = 0;
            completed += device.drainCompletions(completedPerQueue, true);
        }
        if (completed != BATCH || memory.getU8(statusAddrs[BATCH - 1]) != VirtioBlk.S_OK ||
            driver.usedLen(before) != BLOCK + 1)
        {
            throw new IllegalStateException("batch completed " + completed + " requests, status " + memory.getU8(statusAddrs[BATCH - 1]));
        }
        return queue.nextUsed();
    }
}
