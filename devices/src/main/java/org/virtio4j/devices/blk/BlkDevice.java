package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.virtio4j.devices.core.ConfigSpace;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.OffloadingDevice;
import org.virtio4j.devices.core.RequestOffload;
import org.virtio4j.devices.core.SpscRing;
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
public final class BlkDevice implements OffloadingDevice, DeviceCounters
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

    // Offload of blocking backends: request slots owned by the actor while free, by the offload thread while running.
    private RequestOffload offload;
    private Runnable completionSignal;
    private BlkExecutor offloadExecutor;
    private InFlight[] slots;
    private int[] freeSlots;
    private int freeCount;
    private SpscRing<InFlight> completions;
    private long negotiatedFeatures;
    private boolean[] backlogged;
    private int inFlight;

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

    /**
     * A request executed on the offload thread. Preallocated: offloading allocates nothing per request.
     */
    private final class InFlight implements Runnable
    {
        final BlkRequest request = new BlkRequest();
        final int index;
        int queue;
        int head;
        int usedLength;

        InFlight(final int index)
        {
            this.index = index;
        }

        @Override
        public void run()
        {
            try
            {
                usedLength = offloadExecutor.execute(memory, request);
            }
            catch (final RuntimeException e)
            {
                // The status byte could not be written: the chain goes back with nothing written.
                usedLength = 0;
            }
            finally
            {
                // Capacity equals the number of slots: the offer cannot fail.
                completions.offer(this);
                completionSignal.run();
            }
        }
    }

    @Override
    public boolean needsOffload()
    {
        return backend.blocks();
    }

    @Override
    public void offload(final RequestOffload offload, final Runnable completionSignal)
    {
        if (inFlight != 0)
        {
            throw new IllegalStateException("blk offload changed with " + inFlight + " requests in flight");
        }
        if (slots == null)
        {
            final int capacity = Integer.highestOneBit(options.numQueues() * options.queueSize() * 2 - 1);
            offloadExecutor = new BlkExecutor(backend, options);
            slots = new InFlight[capacity];
            freeSlots = new int[capacity];
            for (int i = 0; i < capacity; i++)
            {
                slots[i] = new InFlight(i);
                freeSlots[i] = i;
            }
            freeCount = capacity;
            completions = new SpscRing<>(capacity);
            backlogged = new boolean[options.numQueues()];
        }
        offloadExecutor.setFeatures(negotiatedFeatures);
        this.completionSignal = completionSignal;
        this.offload = offload;
    }

    @Override
    public int drainCompletions(final int[] completedPerQueue, final boolean takeMore) throws DeviceException
    {
        if (completions == null)
        {
            return 0;
        }
        int drained = 0;
        InFlight done;
        try
        {
            while ((done = completions.poll()) != null)
            {
                inFlight--;
                freeSlots[freeCount++] = done.index;
                if (queues != null)
                {
                    queues[done.queue].addUsed(memory, done.head, done.usedLength);
                    completedPerQueue[done.queue]++;
                    drained++;
                }
            }
            for (int q = 0; q < backlogged.length; q++)
            {
                if (backlogged[q] && takeMore && queues != null)
                {
                    backlogged[q] = false;
                    final int completed = processAvailable(queues[q]);
                    completedPerQueue[q] += completed;
                    drained += completed;
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
        return completions != null && !completions.isEmpty();
    }

    @Override
    public int inFlight()
    {
        return inFlight;
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
        this.negotiatedFeatures = negotiatedFeatures;
        executor.setFeatures(negotiatedFeatures);
        if (offloadExecutor != null)
        {
            offloadExecutor.setFeatures(negotiatedFeatures);
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
            // A backlog (every offload slot busy) resumes on completions, not by looping here.
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
        final boolean offloading = offload != null;
        int completed = 0;
        while (iter.next(chain))
        {
            if (offloading)
            {
                final int queueIndex = indexOf(queue);
                if (freeCount == 0)
                {
                    // Every slot is busy: leave the chain in the ring until completions free one.
                    iter.goToPreviousPosition();
                    backlogged[queueIndex] = true;
                    break;
                }
                final InFlight slot = slots[freeSlots[--freeCount]];
                requests++;
                final BlkParseError error = parser.parse(chain, slot.request);
                if (error == null)
                {
                    slot.queue = queueIndex;
                    slot.head = chain.headIndex();
                    if (offload.submit(slot))
                    {
                        inFlight++;
                        continue;
                    }
                    freeCount++;
                    iter.goToPreviousPosition();
                    backlogged[queueIndex] = true;
                    break;
                }
                freeCount++;
                parseErrors[error.ordinal()]++;
                queue.addUsed(memory, chain.headIndex(), failUnparsed(memory, chain));
            }
            else
            {
                queue.addUsed(memory, chain.headIndex(), process(memory, chain));
            }
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
    }

    private static final BlkError[] EXECUTE_ERRORS = BlkError.values();
    private static final BlkParseError[] PARSE_ERRORS = BlkParseError.values();

    @Override
    public List<String> counterNames()
    {
        final List<String> names = new ArrayList<>(List.of("requests", "bytes read", "bytes written"));
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
            default -> index - 3 < EXECUTE_ERRORS.length ? errors(EXECUTE_ERRORS[index - 3])
                : parseErrors(PARSE_ERRORS[index - 3 - EXECUTE_ERRORS.length]);
        };
    }

    /** @return the executor used on the owner's thread. */
    public BlkExecutor executor()
    {
        return executor;
    }

    /** @return bytes read from the backend into the guest, on any thread. */
    public long bytesRead()
    {
        return executor.bytesRead() + (offloadExecutor == null ? 0 : offloadExecutor.bytesRead());
    }

    /** @return bytes written from the guest to the backend, on any thread. */
    public long bytesWritten()
    {
        return executor.bytesWritten() + (offloadExecutor == null ? 0 : offloadExecutor.bytesWritten());
    }

    /**
     * @param error a failure reason.
     * @return requests that failed for it, on any thread.
     */
    public long errors(final BlkError error)
    {
        return executor.errors(error) + (offloadExecutor == null ? 0 : offloadExecutor.errors(error));
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
