package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.QueueError;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * A virtio-blk device (device id 2) over a {@link BlkBackend}: one or more independent request queues
 * (VIRTIO_BLK_F_MQ), each processed by {@link #queueNotify}: every available chain is parsed, executed and
 * returned to the used ring, then the driver is signalled once if the notification rules ask for it.
 *
 * <p>A chain that does not parse gets IOERR in its status byte when it has a usable one, and a used length of
 * 0 or 1; the driver exposing more chains than the queue holds is a driver bug that needs a reset
 * ({@link DeviceException}). Counters say what happened.
 *
 * <p>Not thread-safe: one actor drives a device (queues may be split across actors by the engine).
 */
public final class BlkDevice implements VirtioDevice
{
    private final BlkBackend backend;
    private final BlkOptions options;
    private final BlkExecutor executor;
    private final BlkRequestParser parser = new BlkRequestParser();
    private final BlkRequest request = new BlkRequest();
    private final DescriptorChain chain = new DescriptorChain();
    private final byte[] config = new byte[BlkConfigLayout.SIZE];
    private final long[] parseErrors = new long[BlkParseError.values().length];
    private GuestMemory memory;
    private SplitQueue[] queues;
    private Interrupt interrupt;
    private long requests;

    /**
     * @param backend where the bytes are; the device does not close it.
     * @param options what the device advertises.
     */
    public BlkDevice(final BlkBackend backend, final BlkOptions options)
    {
        this.backend = backend;
        this.options = options;
        this.executor = new BlkExecutor(backend, options);
        writeConfig();
    }

    private void writeConfig()
    {
        final MemorySegment out = MemorySegment.ofArray(config);
        out.set(LE_U64, BlkConfigLayout.CAPACITY, backend.capacity() >> VirtioBlk.SECTOR_SHIFT);
        out.set(LE_U32, BlkConfigLayout.SIZE_MAX, options.sizeMax());
        out.set(LE_U32, BlkConfigLayout.SEG_MAX, options.segMax());
        out.set(LE_U32, BlkConfigLayout.BLK_SIZE, VirtioBlk.SECTOR_SIZE);
        out.set(LE_U16, BlkConfigLayout.MIN_IO_SIZE, (short)1);
        out.set(LE_U32, BlkConfigLayout.OPT_IO_SIZE, 0);
        out.set(LE_U16, BlkConfigLayout.NUM_QUEUES, (short)options.numQueues());
        out.set(LE_U32, BlkConfigLayout.MAX_DISCARD_SECTORS, options.maxDiscardSectors());
        out.set(LE_U32, BlkConfigLayout.MAX_DISCARD_SEG, options.maxDiscardSegments());
        out.set(LE_U32, BlkConfigLayout.DISCARD_SECTOR_ALIGNMENT, 1);
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
        if (offset < 0 || offset >= config.length)
        {
            return 0;
        }
        final int length = Math.min(data.length, config.length - offset);
        System.arraycopy(config, offset, data, 0, length);
        return length;
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
        this.memory = memory;
        this.queues = queues;
        this.interrupt = interrupt;
        executor.setFeatures(negotiatedFeatures);
    }

    @Override
    public int queueNotify(final int queueIndex) throws DeviceException
    {
        if (queues == null || queueIndex < 0 || queueIndex >= queues.length)
        {
            return 0;
        }
        final SplitQueue queue = queues[queueIndex];
        if (!queue.ready())
        {
            return 0;
        }
        final GuestMemory memory = this.memory;
        int completed = 0;
        try
        {
            do
            {
                queue.disableNotification(memory);
                completed += processAvailable(queue);
            }
            while (queue.enableNotification(memory));
            if (completed > 0 && queue.needsNotification(memory))
            {
                interrupt.signalUsedBuffers(queueIndex);
            }
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk queue " + queueIndex + ": " + e.getMessage(), e);
        }
        return completed;
    }

    @Override
    public int processQueue(final int queueIndex) throws DeviceException
    {
        if (queues == null || queueIndex < 0 || queueIndex >= queues.length)
        {
            return 0;
        }
        try
        {
            return processAvailable(queues[queueIndex]);
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk queue " + queueIndex + ": " + e.getMessage(), e);
        }
    }

    /**
     * Processes every chain available now on one queue, without the notification handshake (the engine decides
     * notifications once per batch).
     *
     * @param queue the queue.
     * @return the number of chains completed.
     * @throws QueueException if the avail ring cannot be read, holds too many chains, or a used element cannot be written.
     */
    public int processAvailable(final SplitQueue queue)
    {
        final GuestMemory memory = this.memory;
        final AvailIter iter;
        try
        {
            iter = queue.iter(memory);
        }
        catch (final QueueException e)
        {
            if (e.error() == QueueError.NOT_READY)
            {
                return 0;
            }
            throw e;
        }
        int completed = 0;
        while (iter.next(chain))
        {
            queue.addUsed(memory, chain.headIndex(), process(memory, chain));
            completed++;
        }
        return completed;
    }

    /**
     * Parses and executes one request chain.
     *
     * @param memory the guest's memory.
     * @param chain  the chain.
     * @return the used length.
     */
    public int process(final GuestMemory memory, final DescriptorChain chain)
    {
        requests++;
        final BlkParseError error = parser.parse(chain, request);
        if (error == null)
        {
            return executor.execute(memory, request);
        }
        parseErrors[error.ordinal()]++;
        return failUnparsed(memory, chain);
    }

    /** Writes IOERR into the chain's last descriptor if it can hold a status byte. */
    private static int failUnparsed(final GuestMemory memory, final DescriptorChain chain)
    {
        chain.rewind();
        long last = -1;
        boolean usable = false;
        while (chain.next())
        {
            last = chain.addr();
            usable = chain.isWriteOnly() && chain.len() != 0;
        }
        if (!usable || chain.end().isMalformed() || !memory.checkRange(last, 1))
        {
            return 0;
        }
        memory.putU8(last, VirtioBlk.S_IOERR);
        return 1;
    }

    @Override
    public void reset()
    {
        memory = null;
        queues = null;
        interrupt = null;
    }

    /** @return the executor (for its counters). */
    public BlkExecutor executor()
    {
        return executor;
    }

    /** @return requests seen. */
    public long requests()
    {
        return requests;
    }

    /**
     * @param error a parse error.
     * @return how many chains failed to parse for it.
     */
    public long parseErrors(final BlkParseError error)
    {
        return parseErrors[error.ordinal()];
    }
}
