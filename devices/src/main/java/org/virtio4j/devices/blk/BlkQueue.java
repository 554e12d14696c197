package org.virtio4j.devices.blk;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

import org.virtio4j.devices.core.AsyncDevice;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;

/**
 * One request queue of a {@link BlkDevice}, with everything its data path needs and nothing shared with the other
 * queues: its parser and chain flyweights, its executor (and so its counters), and, on a {@link FileDisk}, its own
 * asynchronous I/O ({@link BlkAsyncQueue}). A lane of the device: it sees its queue as queue 0, and may run on an
 * actor of its own. Every available chain is parsed, checked and executed (or started, on a file) and returned to
 * the used ring; a chain that does not parse gets IOERR in its status byte when it has a usable one.
 *
 * <p>Not thread-safe: one actor drives a queue.
 */
final class BlkQueue implements AsyncDevice, DeviceCounters
{
    private static final int DRAIN_LIMIT = 256;
    private static final BlkError[] EXECUTE_ERRORS = BlkError.values();
    private static final BlkParseError[] PARSE_ERRORS = BlkParseError.values();
    private static final int FIXED_COUNTERS = 12;
    /** The counters every queue keeps, in {@link #counterValue} order. */
    static final List<String> COUNTER_NAMES = counterNameList();

    private final BlkDevice device;
    private final int index;
    private final BlkOptions options;
    private final BlkExecutor executor;
    private final BlkRequestParser parser = new BlkRequestParser();
    private final BlkRequest request = new BlkRequest();
    private final DescriptorChain chain = new DescriptorChain();
    private final long[] parseErrors = new long[PARSE_ERRORS.length];
    private final FileDisk disk;
    private final String name;
    private BlkAsyncQueue async;
    private boolean backlogged;
    private GuestMemory memory;
    private SplitQueue queue;
    private Interrupt interrupt;
    private long requests;

    BlkQueue(final BlkDevice device, final int index, final BlkBackend backend, final BlkOptions options, final String name)
    {
        this.device = device;
        this.index = index;
        this.options = options;
        this.executor = new BlkExecutor(backend, options);
        this.disk = backend instanceof FileDisk file ? file : null;
        this.name = name;
    }

    private static List<String> counterNameList()
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
        return List.copyOf(names);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The device it is a lane of answers for the whole device.
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public int deviceType()
    {
        return device.deviceType();
    }

    @Override
    public long deviceFeatures()
    {
        return device.deviceFeatures();
    }

    @Override
    public int[] queueMaxSizes()
    {
        return new int[] {options.queueSize()};
    }

    @Override
    public int configSize()
    {
        return device.configSize();
    }

    @Override
    public int readConfig(final int offset, final byte[] data)
    {
        return device.readConfig(offset, data);
    }

    @Override
    public int writeConfig(final int offset, final byte[] data)
    {
        return device.writeConfig(offset, data);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Data path
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public void activate(final GuestMemory memory, final SplitQueue[] queues, final long negotiatedFeatures, final Interrupt interrupt)
        throws DeviceException
    {
        if (queues.length != 1 || memory == null)
        {
            throw new DeviceException("blk queue " + index + " activate: needs its one queue and guest memory");
        }
        this.memory = memory;
        this.queue = queues[0];
        this.interrupt = interrupt;
        executor.setFeatures(negotiatedFeatures);
        if (disk != null && queue.ready())
        {
            openAsync(queue.size());
            async.bind(memory, queue);
        }
    }

    /** Makes (or keeps) the queue's asynchronous half, sized by the queue. */
    private void openAsync(final int size) throws DeviceException
    {
        if (async != null && async.capacity() != size)
        {
            async.close();
            async = null;
        }
        if (async == null)
        {
            try
            {
                async = new BlkAsyncQueue(disk, executor, options, size, index, name);
            }
            catch (final java.io.IOException | RuntimeException e)
            {
                throw new DeviceException("blk queue " + index + ": cannot open file I/O: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public int queueNotify(final int queueIndex) throws DeviceException
    {
        if (queue == null || queueIndex != 0 || !queue.ready())
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
                completed += processAvailable();
            }
            // A backlog (every slot in flight) resumes on completions, not by looping here.
            while (!backlogged && queue.enableNotification(memory));
            if (completed > 0 && queue.needsNotification(memory))
            {
                interrupt.signalUsedBuffers(0);
            }
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk queue " + index + ": " + e.getMessage(), e);
        }
        return completed;
    }

    @Override
    public int processQueue(final int queueIndex) throws DeviceException
    {
        if (queue == null || queueIndex != 0)
        {
            return 0;
        }
        try
        {
            return processAvailable();
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk queue " + index + ": " + e.getMessage(), e);
        }
    }

    /**
     * Processes every chain available now, without the notification handshake (the engine decides notifications
     * once per batch).
     *
     * @return the number of chains completed now (asynchronous ones complete in {@link #drainCompletions}).
     * @throws QueueException if the avail ring cannot be read, holds too many chains, or a used element cannot be written.
     */
    int processAvailable()
    {
        final GuestMemory memory = this.memory;
        final SplitQueue queue = this.queue;
        final AvailIter iter = queue.iterIfReady(memory);
        if (iter == null)
        {
            return 0;
        }
        int completed = 0;
        if (disk == null)
        {
            while (iter.next(chain))
            {
                queue.addUsed(memory, chain.headIndex(), process(memory, chain));
                completed++;
            }
            return completed;
        }
        final BlkAsyncQueue queueIo = async;
        if (queueIo == null)
        {
            // Not ready when the device was activated: nothing is taken until it is activated again.
            return 0;
        }
        while (iter.next(chain))
        {
            final BlkSlot slot = queueIo.takeSlot(chain.headIndex());
            if (slot == null)
            {
                // Every slot is in flight: leave the chain in the ring until completions free one.
                iter.goToPreviousPosition();
                backlogged = true;
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

    /**
     * Parses and executes one request chain on the caller's thread.
     *
     * @param memory the guest's memory.
     * @param chain  the chain.
     * @return the used length.
     */
    int process(final GuestMemory memory, final DescriptorChain chain)
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

    // ---------------------------------------------------------------------------------------------------------------
    // Asynchronous completions
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public boolean asynchronous()
    {
        return disk != null;
    }

    @Override
    public int drainCompletions(final int[] completedPerQueue, final boolean takeMore) throws DeviceException
    {
        final BlkAsyncQueue queueIo = async;
        if (queueIo == null)
        {
            return 0;
        }
        try
        {
            int drained = queueIo.drain(DRAIN_LIMIT);
            if (backlogged && takeMore && queue != null)
            {
                backlogged = false;
                drained += processAvailable();
            }
            completedPerQueue[0] += drained;
            return drained;
        }
        catch (final QueueException e)
        {
            throw new DeviceException("blk completion on queue " + index + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean hasCompletions()
    {
        final BlkAsyncQueue queueIo = async;
        return queueIo != null && queueIo.hasWork();
    }

    @Override
    public int inFlight()
    {
        final BlkAsyncQueue queueIo = async;
        return queueIo == null ? 0 : queueIo.inFlight();
    }

    @Override
    public void addCompletionFds(final IntConsumer fds)
    {
        final BlkAsyncQueue queueIo = async;
        if (queueIo != null && queueIo.inFlight() > 0)
        {
            fds.accept(queueIo.prepareToSleep());
        }
    }

    @Override
    public void reset()
    {
        memory = null;
        queue = null;
        interrupt = null;
        backlogged = false;
        if (async != null)
        {
            async.unbind();
        }
    }

    /** Releases the queue's ring or I/O threads (nothing may be in flight). */
    void closeAsync()
    {
        if (async != null)
        {
            async.close();
            async = null;
        }
    }

    /** @return "io_uring" or "threads" when served asynchronously, else null. */
    String ioKind()
    {
        return async == null ? null : async.ioKind();
    }

    BlkExecutor executor()
    {
        return executor;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Counters
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public List<String> counterNames()
    {
        return COUNTER_NAMES;
    }

    @Override
    public long counterValue(final int counter)
    {
        final BlkAsyncQueue queueIo = async;
        return switch (counter)
        {
            case 0 -> requests;
            case 1 -> executor.bytesRead();
            case 2 -> executor.bytesWritten();
            case 3 -> inFlight();
            case 4 -> index == 0 && disk != null ? disk.fallbacks() : 0;
            case 5 -> queueIo == null ? 0 : queueIo.bounced();
            case 6 -> queueIo == null ? 0 : queueIo.nowaitHits();
            case 7 -> queueIo == null ? 0 : queueIo.retries();
            case 8 -> queueIo == null ? 0 : queueIo.shortTransfers();
            case 9 -> queueIo == null ? 0 : queueIo.ioErrors();
            case 10 -> queueIo == null ? 0 : queueIo.flushErrors();
            case 11 -> queueIo == null ? 0 : queueIo.deferrals();
            default -> counter - FIXED_COUNTERS < EXECUTE_ERRORS.length ? executor.errors(EXECUTE_ERRORS[counter - FIXED_COUNTERS])
                : parseErrors[counter - FIXED_COUNTERS - EXECUTE_ERRORS.length];
        };
    }
}
