package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.function.ToLongFunction;

import org.virtio4j.devices.core.ConfigSpace;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.AsyncDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DeviceType;
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
public final class BlkDevice implements AsyncDevice, DeviceCounters
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
    private static final int DRAIN_LIMIT = 256;

    // Asynchronous file I/O: one queue half per virtqueue, sized by the queue, kept across resets.
    private final FileDisk disk;
    private final String name;
    private BlkAsyncQueue[] async;
    private boolean[] backlogged;

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
        this.executor = new BlkExecutor(backend, options);
        this.disk = backend instanceof FileDisk file ? file : null;
        this.name = name;
        writeConfig();
    }

    @Override
    public boolean asynchronous()
    {
        return disk != null;
    }

    @Override
    public int drainCompletions(final int[] completedPerQueue, final boolean takeMore) throws DeviceException
    {
        final BlkAsyncQueue[] async = this.async;
        if (async == null)
        {
            return 0;
        }
        int drained = 0;
        try
        {
            for (int q = 0; q < async.length; q++)
            {
                final BlkAsyncQueue queueIo = async[q];
                if (queueIo == null)
                {
                    continue;
                }
                final int completed = queueIo.drain(DRAIN_LIMIT);
                completedPerQueue[q] += completed;
                drained += completed;
                if (backlogged[q] && takeMore && queues != null)
                {
                    backlogged[q] = false;
                    final int more = processAvailable(queues[q]);
                    completedPerQueue[q] += more;
                    drained += more;
                }
            }
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk completion: " + e.getMessage(), e);
        }
        return drained;
    }

    @Override
    public boolean hasCompletions()
    {
        final BlkAsyncQueue[] async = this.async;
        if (async != null)
        {
            for (final BlkAsyncQueue queueIo : async)
            {
                if (queueIo != null && queueIo.hasWork())
                {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public int inFlight()
    {
        int inFlight = 0;
        final BlkAsyncQueue[] async = this.async;
        if (async != null)
        {
            for (final BlkAsyncQueue queueIo : async)
            {
                inFlight += queueIo == null ? 0 : queueIo.inFlight();
            }
        }
        return inFlight;
    }

    @Override
    public void addCompletionFds(final IntConsumer fds)
    {
        final BlkAsyncQueue[] async = this.async;
        if (async != null)
        {
            for (final BlkAsyncQueue queueIo : async)
            {
                if (queueIo != null && queueIo.inFlight() > 0)
                {
                    fds.accept(queueIo.prepareToSleep());
                }
            }
        }
    }

    /** Makes (or keeps) each ready queue's asynchronous half, sized by the queue's size. */
    private void openAsync(final SplitQueue[] queues) throws DeviceException
    {
        if (async == null)
        {
            async = new BlkAsyncQueue[queues.length];
            backlogged = new boolean[queues.length];
        }
        for (int q = 0; q < queues.length; q++)
        {
            if (!queues[q].ready())
            {
                continue;
            }
            final int size = queues[q].size();
            if (async[q] != null && async[q].capacity() != size)
            {
                async[q].close();
                async[q] = null;
            }
            if (async[q] == null)
            {
                try
                {
                    async[q] = new BlkAsyncQueue(disk, executor, options, size, q, name);
                }
                catch (final java.io.IOException | RuntimeException e)
                {
                    throw new DeviceException("blk queue " + q + ": cannot open file I/O: " + e.getMessage(), e);
                }
            }
            async[q].bind(memory, queues[q]);
        }
    }

    /** Releases the rings or I/O threads of every queue (nothing may be in flight). */
    public void closeAsync()
    {
        if (async != null)
        {
            for (int q = 0; q < async.length; q++)
            {
                if (async[q] != null)
                {
                    async[q].close();
                    async[q] = null;
                }
            }
        }
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
        this.memory = memory;
        this.queues = queues;
        this.interrupt = interrupt;
        executor.setFeatures(negotiatedFeatures);
        if (disk != null)
        {
            openAsync(queues);
        }
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
            // A backlog (every slot in flight) resumes on completions, not by looping here.
            while (!(backlogged != null && backlogged[queueIndex]) && queue.enableNotification(memory));
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
        final AvailIter iter = queue.iterIfReady(memory);
        if (iter == null)
        {
            return 0;
        }
        int completed = 0;
        if (disk != null)
        {
            final int queueIndex = indexOf(queue);
            final BlkAsyncQueue queueIo = async[queueIndex];
            if (queueIo == null)
            {
                // Not ready when the device was activated: nothing is taken until it is activated again.
                iter.goToPreviousPosition();
                return 0;
            }
            while (iter.next(chain))
            {
                final BlkSlot slot = queueIo.takeSlot(chain.headIndex());
                if (slot == null)
                {
                    // Every slot is in flight: leave the chain in the ring until completions free one.
                    iter.goToPreviousPosition();
                    backlogged[queueIndex] = true;
                    break;
                }
                requests++;
                final BlkParseError error = parser.parse(chain, slot.request);
                if (error != null)
                {
                    queueIo.giveBack(slot);
                    parseErrors[error.ordinal()]++;
                    queue.addUsed(memory, chain.headIndex(), failUnparsed(memory, chain));
                    completed++;
                }
                else if (queueIo.start(slot))
                {
                    completed++;
                }
            }
            // One submission for every operation this batch prepared.
            queueIo.submit();
            return completed;
        }
        while (iter.next(chain))
        {
            queue.addUsed(memory, chain.headIndex(), process(memory, chain));
            completed++;
        }
        return completed;
    }

    private int indexOf(final SplitQueue queue)
    {
        for (int i = 0; i < queues.length; i++)
        {
            if (queues[i] == queue)
            {
                return i;
            }
        }
        throw new IllegalArgumentException("not a queue of this device");
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
        if (async != null)
        {
            for (final BlkAsyncQueue queueIo : async)
            {
                if (queueIo != null)
                {
                    queueIo.unbind();
                }
            }
            Arrays.fill(backlogged, false);
        }
    }

    private static final int ASYNC_COUNTERS = 12;
    private static final BlkError[] EXECUTE_ERRORS = BlkError.values();
    private static final BlkParseError[] PARSE_ERRORS = BlkParseError.values();

    @Override
    public List<String> counterNames()
    {
        final List<String> names = new ArrayList<>(List.of("requests", "bytes read", "bytes written", "in flight",
            "aio fallbacks", "bounced requests", "sync transfers", "io retries", "short transfers", "io errors", "flush errors",
            "deferred operations"));
        for (final BlkError error : EXECUTE_ERRORS)
        {
            names.add("errors: " + error.name().toLowerCase());
        }
        for (final BlkParseError error : PARSE_ERRORS)
        {
            names.add("errors: parse " + error.name().toLowerCase());
        }
        return names;
    }

    @Override
    public long counterValue(final int index)
    {
        return switch (index)
        {
            case 0 -> requests;
            case 1 -> bytesRead();
            case 2 -> bytesWritten();
            case 3 -> inFlight();
            case 4 -> disk == null ? 0 : disk.fallbacks();
            case 5 -> asyncSum(BlkAsyncQueue::bounced);
            case 6 -> asyncSum(BlkAsyncQueue::nowaitHits);
            case 7 -> asyncSum(BlkAsyncQueue::retries);
            case 8 -> asyncSum(BlkAsyncQueue::shortTransfers);
            case 9 -> asyncSum(BlkAsyncQueue::ioErrors);
            case 10 -> asyncSum(BlkAsyncQueue::flushErrors);
            case 11 -> asyncSum(BlkAsyncQueue::deferrals);
            default -> index - ASYNC_COUNTERS < EXECUTE_ERRORS.length ? errors(EXECUTE_ERRORS[index - ASYNC_COUNTERS])
                : parseErrors(PARSE_ERRORS[index - ASYNC_COUNTERS - EXECUTE_ERRORS.length]);
        };
    }

    private long asyncSum(final ToLongFunction<BlkAsyncQueue> counter)
    {
        long sum = 0;
        final BlkAsyncQueue[] async = this.async;
        if (async != null)
        {
            for (final BlkAsyncQueue queueIo : async)
            {
                sum += queueIo == null ? 0 : counter.applyAsLong(queueIo);
            }
        }
        return sum;
    }

    /**
     * @param queue a queue index.
     * @return "io_uring" or "threads" for a queue served asynchronously, else null.
     */
    public String ioKind(final int queue)
    {
        return async == null || async[queue] == null ? null : async[queue].ioKind();
    }

    /** @return the executor used on the owner's thread. */
    public BlkExecutor executor()
    {
        return executor;
    }

    /** @return bytes read from the backend into the guest, on any thread. */
    public long bytesRead()
    {
        return executor.bytesRead();
    }

    /** @return bytes written from the guest to the backend, on any thread. */
    public long bytesWritten()
    {
        return executor.bytesWritten();
    }

    /**
     * @param error a failure reason.
     * @return requests that failed for it, on any thread.
     */
    public long errors(final BlkError error)
    {
        return executor.errors(error);
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
