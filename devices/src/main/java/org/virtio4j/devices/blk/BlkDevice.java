package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

import org.virtio4j.devices.core.AsyncDevice;
import org.virtio4j.devices.core.ConfigSpace;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.LanedDevice;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * A virtio-blk device (device id 2) over a {@link BlkBackend}: what it offers (features, config space) and one or
 * more independent request queues (VIRTIO_BLK_F_MQ), each a {@link BlkQueue} lane with its own parser, executor
 * and, on a {@link FileDisk}, its own asynchronous I/O. Driven whole by one actor, the device hands each queue to
 * its lane; an engine with several actors attaches the lanes to different actors ({@link LanedDevice}).
 *
 * <p>A chain that does not parse gets IOERR in its status byte when it has a usable one, and a used length of
 * 0 or 1; the driver exposing more chains than the queue holds is a driver bug that needs a reset
 * ({@link DeviceException}). Counters, summed over the queues, say what happened.
 *
 * <p>Not thread-safe: one actor drives a queue; the control plane calls activate and reset only while no actor
 * runs the device.
 */
public final class BlkDevice implements AsyncDevice, LanedDevice, DeviceCounters
{
    private final BlkBackend backend;
    private final BlkOptions options;
    private final FileDisk disk;
    private final byte[] config = new byte[BlkConfigLayout.SIZE];
    private final BlkQueue[] lanes;
    private final int[] laneCompleted = new int[1];

    /**
     * @param backend where the bytes are; the device does not close it. A {@link FileDisk} is served
     *                asynchronously (many requests in flight per queue); other backends run on the caller.
     * @param options what the device advertises.
     */
    public BlkDevice(final BlkBackend backend, final BlkOptions options)
    {
        this(backend, options, "blk");
    }

    /**
     * @param backend where the bytes are; the device does not close it.
     * @param options what the device advertises.
     * @param name    for I/O thread names.
     */
    public BlkDevice(final BlkBackend backend, final BlkOptions options, final String name)
    {
        this.backend = backend;
        this.options = options;
        this.disk = backend instanceof FileDisk file ? file : null;
        lanes = new BlkQueue[options.numQueues()];
        for (int q = 0; q < lanes.length; q++)
        {
            lanes[q] = new BlkQueue(this, q, backend, options, name);
        }
        writeConfig();
    }

    private void writeConfig()
    {
        final MemorySegment out = MemorySegment.ofArray(config);
        out.set(LE_U64, BlkConfigLayout.CAPACITY, backend.capacity() >> VirtioBlk.SECTOR_SHIFT);
        out.set(LE_U32, BlkConfigLayout.SIZE_MAX, options.sizeMax());
        out.set(LE_U32, BlkConfigLayout.SEG_MAX, options.segMax());
        // The logical block size follows the file (its O_DIRECT alignment): a Linux guest then sends aligned I/O.
        final int blockSize = disk != null ? disk.blockSize() : VirtioBlk.SECTOR_SIZE;
        out.set(LE_U32, BlkConfigLayout.BLK_SIZE, blockSize);
        out.set(LE_U16, BlkConfigLayout.MIN_IO_SIZE, (short)1);
        out.set(LE_U32, BlkConfigLayout.OPT_IO_SIZE, 0);
        out.set(LE_U16, BlkConfigLayout.NUM_QUEUES, (short)options.numQueues());
        out.set(LE_U32, BlkConfigLayout.MAX_DISCARD_SECTORS, options.maxDiscardSectors());
        out.set(LE_U32, BlkConfigLayout.MAX_DISCARD_SEG, options.maxDiscardSegments());
        out.set(LE_U32, BlkConfigLayout.DISCARD_SECTOR_ALIGNMENT, blockSize >> VirtioBlk.SECTOR_SHIFT);
        out.set(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SECTORS, options.maxWriteZeroesSectors());
        out.set(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SEG, options.maxWriteZeroesSegments());
        config[BlkConfigLayout.WRITE_ZEROES_MAY_UNMAP] = 1;
    }

    @Override
    public int deviceType()
    {
        return DeviceType.BLOCK;
    }

    @Override
    public long deviceFeatures()
    {
        long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) |
            VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) |
            VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) |
            VirtioFeatures.bit(VirtioBlk.F_SIZE_MAX) |
            VirtioFeatures.bit(VirtioBlk.F_SEG_MAX) |
            VirtioFeatures.bit(VirtioBlk.F_BLK_SIZE) |
            VirtioFeatures.bit(VirtioBlk.F_TOPOLOGY) |
            VirtioFeatures.bit(VirtioBlk.F_FLUSH);
        if (options.readOnly())
        {
            features |= VirtioFeatures.bit(VirtioBlk.F_RO);
        }
        if (options.numQueues() > 1)
        {
            features |= VirtioFeatures.bit(VirtioBlk.F_MQ);
        }
        if (!options.readOnly() && options.maxDiscardSectors() > 0)
        {
            features |= VirtioFeatures.bit(VirtioBlk.F_DISCARD);
        }
        if (!options.readOnly() && options.maxWriteZeroesSectors() > 0)
        {
            features |= VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES);
        }
        return features;
    }

    @Override
    public int[] queueMaxSizes()
    {
        final int[] sizes = new int[options.numQueues()];
        Arrays.fill(sizes, options.queueSize());
        return sizes;
    }

    @Override
    public int configSize()
    {
        return config.length;
    }

    @Override
    public int readConfig(final int offset, final byte[] data)
    {
        return ConfigSpace.read(config, offset, data);
    }

    @Override
    public int writeConfig(final int offset, final byte[] data)
    {
        // Only writeback (with F_CONFIG_WCE, which we do not offer) is driver-writable: everything is ignored.
        return 0;
    }

    @Override
    public void activate(final GuestMemory memory, final SplitQueue[] queues, final long negotiatedFeatures, final Interrupt interrupt)
        throws DeviceException
    {
        if (queues.length != options.numQueues())
        {
            throw new DeviceException("blk activate: queues=" + queues.length + ", expected " + options.numQueues());
        }
        if (memory == null)
        {
            throw new DeviceException("blk activate: no guest memory attached");
        }
        for (int q = 0; q < lanes.length; q++)
        {
            final int queue = q;
            lanes[q].activate(memory, new SplitQueue[] {queues[q]}, negotiatedFeatures, new Interrupt()
            {
                @Override
                public void signalUsedBuffers(final int laneQueue)
                {
                    interrupt.signalUsedBuffers(queue);
                }

                @Override
                public void signalConfigChange()
                {
                    interrupt.signalConfigChange();
                }
            });
        }
    }

    @Override
    public int laneCount()
    {
        return lanes.length;
    }

    @Override
    public VirtioDevice lane(final int queue)
    {
        return lanes[queue];
    }

    @Override
    public int queueNotify(final int queueIndex) throws DeviceException
    {
        return queueIndex < 0 || queueIndex >= lanes.length ? 0 : lanes[queueIndex].queueNotify(0);
    }

    @Override
    public int processQueue(final int queueIndex) throws DeviceException
    {
        return queueIndex < 0 || queueIndex >= lanes.length ? 0 : lanes[queueIndex].processQueue(0);
    }

    /**
     * Processes every chain available now on the first queue, without the notification handshake (for callers
     * that drive a one-queue device by hand, as benchmarks do).
     *
     * @param queue the device's queue (its only one).
     * @return the number of chains completed now.
     * @throws org.virtio4j.virtio.QueueException if the avail ring cannot be read or a used element cannot be written.
     */
    public int processAvailable(final SplitQueue queue)
    {
        return lanes[0].processAvailable();
    }

    /**
     * Parses and executes one request chain on the caller's thread, as the first queue would.
     *
     * @param memory the guest's memory.
     * @param chain  the chain.
     * @return the used length.
     */
    public int process(final GuestMemory memory, final DescriptorChain chain)
    {
        return lanes[0].process(memory, chain);
    }

    @Override
    public boolean asynchronous()
    {
        return disk != null;
    }

    @Override
    public int drainCompletions(final int[] completedPerQueue, final boolean takeMore) throws DeviceException
    {
        int drained = 0;
        for (int q = 0; q < lanes.length; q++)
        {
            laneCompleted[0] = 0;
            drained += lanes[q].drainCompletions(laneCompleted, takeMore);
            completedPerQueue[q] += laneCompleted[0];
        }
        return drained;
    }

    @Override
    public boolean hasCompletions()
    {
        for (final BlkQueue lane : lanes)
        {
            if (lane.hasCompletions())
            {
                return true;
            }
        }
        return false;
    }

    @Override
    public int inFlight()
    {
        int inFlight = 0;
        for (final BlkQueue lane : lanes)
        {
            inFlight += lane.inFlight();
        }
        return inFlight;
    }

    @Override
    public void addCompletionFds(final IntConsumer fds)
    {
        for (final BlkQueue lane : lanes)
        {
            lane.addCompletionFds(fds);
        }
    }

    @Override
    public void reset()
    {
        for (final BlkQueue lane : lanes)
        {
            lane.reset();
        }
    }

    /** Releases the rings or I/O threads of every queue (nothing may be in flight). */
    public void closeAsync()
    {
        for (final BlkQueue lane : lanes)
        {
            lane.closeAsync();
        }
    }

    /**
     * @param queue a queue index.
     * @return "io_uring" or "threads" for a queue served asynchronously, else null.
     */
    public String ioKind(final int queue)
    {
        return lanes[queue].ioKind();
    }

    @Override
    public List<String> counterNames()
    {
        return BlkQueue.COUNTER_NAMES;
    }

    @Override
    public long counterValue(final int index)
    {
        long sum = 0;
        for (final BlkQueue lane : lanes)
        {
            sum += lane.counterValue(index);
        }
        return sum;
    }

    private long counter(final String name)
    {
        return counterValue(BlkQueue.COUNTER_NAMES.indexOf(name));
    }

    /** @return the first queue's executor (the only one of a one-queue device). */
    public BlkExecutor executor()
    {
        return lanes[0].executor();
    }

    /** @return bytes read from the backend into the guest. */
    public long bytesRead()
    {
        return counter("bytes read");
    }

    /** @return bytes written from the guest to the backend. */
    public long bytesWritten()
    {
        return counter("bytes written");
    }

    /**
     * @param error a failure reason.
     * @return requests that failed for it.
     */
    public long errors(final BlkError error)
    {
        return counter("errors: " + error.name().toLowerCase());
    }

    /** @return requests seen. */
    public long requests()
    {
        return counter("requests");
    }

    /**
     * @param error a parse error.
     * @return how many chains failed to parse for it.
     */
    public long parseErrors(final BlkParseError error)
    {
        return counter("errors: parse " + error.name().toLowerCase());
    }
}
