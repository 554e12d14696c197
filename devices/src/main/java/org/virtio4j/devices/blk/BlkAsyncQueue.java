package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.IoUring;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;

/**
 * The asynchronous half of one virtio-blk queue on a {@link FileDisk}: many requests in flight at once (one
 * {@link BlkSlot} per ring entry), their operations prepared straight into the queue's {@link BlkIo} and handed
 * over once per batch ({@link #submit()}), their completions reaped in the actor's duty cycle ({@link #drain}) and
 * returned to the used ring in the order they finish. Every check of the synchronous executor runs before any byte
 * moves; the bytes move between the file and guest memory with no copy, except O_DIRECT requests that are not
 * aligned, which go through a bounce buffer (a read-modify-write, alone among writes, when their offset or length
 * is not).
 *
 * <p>Errors: a failed operation is IOERR for that request and a counter; EAGAIN and EINTR are retried; a short
 * transfer continues where it stopped; a read at the end of the file reads zeros. A failed fdatasync fails that
 * FLUSH and every later one until the device is reset. Write-through (FLUSH not negotiated): writes use
 * RWF_DSYNC and DISCARD/WRITE_ZEROES end with an fdatasync.
 *
 * <p>Owned by the queue's actor. Allocates nothing per request.
 */
final class BlkAsyncQueue implements IoUring.Completions, AutoCloseable
{
    private static final int MAX_RETRIES = 16;

    private final FileDisk disk;
    private final BlkIo io;
    private final BlkExecutor executor;
    private final int queueIndex;
    private final int fd;
    private final boolean direct;
    private final Arena arena = Arena.ofShared();
    private final BlkTransferIo transferIo;
    private final BlkDirectIo directIo;
    private final BlkSegmentIo segmentIo;
    private final BlkSlot[] slots;
    private final int[] free;
    private int freeCount;
    private final int[] deferred;
    private int deferredHead;
    private int deferredCount;
    private GuestMemory memory;
    private SplitQueue queue;
    private int completedNow;
    private final int submitBatch;
    private int startedSinceSubmit;

    private long bounced;
    private long retries;
    private long ioErrors;
    private long deferrals;
    private int lastErrno;

    /**
     * @param disk       the file.
     * @param executor   the device's checks and status mapping.
     * @param options    the device's options (segment limits).
     * @param queueSize  the queue's size: the most requests in flight.
     * @param queueIndex the queue's index.
     * @param name       for I/O thread names.
     * @throws java.io.IOException if the queue's I/O cannot be opened.
     */
    BlkAsyncQueue(final FileDisk disk, final BlkExecutor executor, final BlkOptions options, final int queueSize, final int queueIndex,
        final String name) throws java.io.IOException
    {
        this.disk = disk;
        this.executor = executor;
        this.queueIndex = queueIndex;
        final int maxSegments = Math.max(1, Math.max(options.maxDiscardSegments(), options.maxWriteZeroesSegments()));
        io = disk.openIo(Math.min(32768, Math.max(queueSize, Math.max(64, 2 * maxSegments))), name + "-q" + queueIndex);
        fd = disk.fd();
        direct = disk.direct();
        submitBatch = disk.options().submitBatch();
        transferIo = new BlkTransferIo(this, disk);
        directIo = direct ? new BlkDirectIo(this, disk) : null;
        segmentIo = new BlkSegmentIo(this);
        slots = new BlkSlot[queueSize];
        free = new int[queueSize];
        deferred = new int[queueSize];
        for (int i = 0; i < queueSize; i++)
        {
            slots[i] = new BlkSlot(i, maxSegments, arena);
            free[i] = queueSize - 1 - i;
        }
        freeCount = queueSize;
    }

    /** @return the ring entries this queue was sized for (its queue size). */
    int capacity()
    {
        return slots.length;
    }

    void bind(final GuestMemory memory, final SplitQueue queue)
    {
        this.memory = memory;
        this.queue = queue;
    }

    /** Forgets the queue at a device reset: nothing is in flight; a failed fdatasync is forgotten too. */
    void unbind()
    {
        memory = null;
        queue = null;
        segmentIo.reset();
    }

    /** @return a free slot, or null if every slot is in flight. */
    BlkSlot takeSlot(final int head)
    {
        if (freeCount == 0)
        {
            return null;
        }
        final BlkSlot slot = slots[free[--freeCount]];
        slot.begin(queueIndex, head);
        return slot;
    }

    /** Returns a slot taken but never started (its chain did not parse). */
    void giveBack(final BlkSlot slot)
    {
        free[freeCount++] = slot.index;
    }

    /** @return requests in flight. */
    int inFlight()
    {
        return slots.length - freeCount;
    }

    /** @return true if completions or deferred operations wait for {@link #drain} (any thread for the ring part). */
    boolean hasWork()
    {
        return deferredCount > 0 || io.hasCompletions();
    }

    /** @return the eventfd that wakes a sleeping actor when a completion arrives (drained now). */
    int prepareToSleep()
    {
        return io.prepareToSleep();
    }

    /** Hands the operations prepared in this batch to the kernel (or the I/O threads). */
    void submit()
    {
        startedSinceSubmit = 0;
        if (io.submit() < 0)
        {
            ioErrors++;
        }
    }

    /**
     * Starts a parsed request.
     *
     * @param slot the slot, holding the parsed request.
     * @return true if it completed at once (its used element is written), false if it is in flight.
     */
    boolean start(final BlkSlot slot)
    {
        completedNow = 0;
        final BlkRequest request = slot.request;
        switch (request.type())
        {
            case VirtioBlk.T_IN, VirtioBlk.T_OUT ->
            {
                final BlkError invalid = executor.checkTransfer(memory, request);
                if (invalid != null)
                {
                    slot.fail(invalid);
                    finish(slot);
                }
                else
                {
                    transferIo.begin(slot);
                }
            }
            case VirtioBlk.T_FLUSH -> segmentIo.flush(slot);
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> segmentIo.begin(slot);
            default ->
            {
                // GET_ID and unknown types move no file bytes: the synchronous executor answers them.
                final int used = executor.execute(memory, request);
                queue.addUsed(memory, slot.head, used);
                free[freeCount++] = slot.index;
                completedNow++;
            }
        }
        if (submitBatch > 0 && completedNow == 0 && ++startedSinceSubmit >= submitBatch)
        {
            // Mid-batch: the disk starts on these while the rest of the batch is parsed.
            submit();
        }
        return completedNow > 0;
    }

    /**
     * Retries deferred operations, then reaps completions and writes their used elements.
     *
     * @param limit the most completions to reap.
     * @return requests completed (used elements written).
     */
    int drain(final int limit)
    {
        completedNow = 0;
        for (int n = deferredCount; n > 0; n--)
        {
            final BlkSlot slot = slots[deferred[deferredHead]];
            deferredHead = deferredHead + 1 == deferred.length ? 0 : deferredHead + 1;
            deferredCount--;
            retry(slot);
        }
        io.reap(this, limit);
        submit();
        return completedNow;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Completions
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public void complete(final long tag, final int result)
    {
        final BlkSlot slot = slots[(int)tag];
        slot.pending--;
        switch (slot.stage)
        {
            case BlkSlot.TRANSFER -> transferIo.complete(slot, result);
            case BlkSlot.FLUSH, BlkSlot.SYNC -> segmentIo.onSync(slot, result);
            case BlkSlot.SEGMENTS, BlkSlot.ALLOCATE -> segmentIo.complete(slot, (int)(tag >>> 32), result);
            default -> directIo.complete(slot, result);
        }
    }

    boolean retryable(final BlkSlot slot, final int result)
    {
        if ((result == -Errno.EAGAIN || result == -Errno.EINTR) && slot.retries < MAX_RETRIES)
        {
            slot.retries++;
            retries++;
            return true;
        }
        return false;
    }

    void failIo(final BlkSlot slot, final int result)
    {
        ioErrors++;
        lastErrno = -result;
        slot.fail(BlkError.BACKEND_IO);
    }

    void defer(final BlkSlot slot)
    {
        deferrals++;
        deferred[(deferredHead + deferredCount) % deferred.length] = slot.index;
        deferredCount++;
    }

    private void retry(final BlkSlot slot)
    {
        switch (slot.stage)
        {
            case BlkSlot.TRANSFER ->
            {
                if (slot.begun)
                {
                    transferIo.issue(slot);
                }
                else
                {
                    transferIo.begin(slot);
                }
            }
            case BlkSlot.FLUSH, BlkSlot.SYNC -> segmentIo.issueSync(slot);
            case BlkSlot.SEGMENTS, BlkSlot.ALLOCATE -> segmentIo.issue(slot);
            default ->
            {
                if (slot.bounce < 0)
                {
                    directIo.next(slot);
                }
                else
                {
                    directIo.issue(slot);
                }
            }
        }
    }

    /** Writes the status byte and the used element, and frees the slot. */
    void finish(final BlkSlot slot)
    {
        final int status = executor.status(slot.error);
        memory.putU8(slot.request.statusAddr(), status);
        final int used = slot.error == null ? slot.dataWritten + 1 : 1;
        queue.addUsed(memory, slot.head, used);
        free[freeCount++] = slot.index;
        completedNow++;
    }

    GuestMemory memory()
    {
        return memory;
    }

    BlkIo io()
    {
        return io;
    }

    int fd()
    {
        return fd;
    }

    BlkExecutor executor()
    {
        return executor;
    }

    FileDisk disk()
    {
        return disk;
    }

    BlkTransferIo transferIo()
    {
        return transferIo;
    }

    BlkDirectIo directIo()
    {
        return directIo;
    }

    /** @param count requests that went through the bounce path. */
    void bounced(final int count)
    {
        bounced += count;
    }

    long bounced()
    {
        return bounced;
    }

    long nowaitHits()
    {
        return transferIo.syncTransfers();
    }

    long retries()
    {
        return retries;
    }

    long shortTransfers()
    {
        return transferIo.shortTransfers();
    }

    long ioErrors()
    {
        return ioErrors;
    }

    long flushErrors()
    {
        return segmentIo.flushErrors();
    }

    long deferrals()
    {
        return deferrals;
    }

    int lastErrno()
    {
        return lastErrno;
    }

    String ioKind()
    {
        return io.kind();
    }

    @Override
    public void close()
    {
        disk.closeIo(io);
        transferIo.close();
        if (directIo != null)
        {
            directIo.close();
        }
        arena.close();
    }
}
