package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.FileIo;
import org.virtio4j.memory.linux.IoUring;
import org.virtio4j.memory.linux.IoUringLayout;
import org.virtio4j.memory.linux.Linux;
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
    private static final int PUNCH = Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE;
    private static final int ZERO_RANGE = Linux.FALLOC_FL_ZERO_RANGE | Linux.FALLOC_FL_KEEP_SIZE;
    private static final int BOUNCE_BUFFERS = 8;
    private static final int BOUNCE_BYTES = 1 << 20;

    private final FileDisk disk;
    private final BlkIo io;
    private final BlkExecutor executor;
    private final int queueIndex;
    private final int fd;
    private final boolean direct;
    private final boolean nowaitReads;
    private final boolean syncIoAll;
    private final MemorySegment mapping;
    private final long blockMask;
    private final long memoryMask;
    private final Arena arena = Arena.ofShared();
    private final FileIo syncIo;
    private final BlkBounce bounce;
    private final BlkSlot[] slots;
    private final int[] free;
    private int freeCount;
    private final int[] deferred;
    private int deferredHead;
    private int deferredCount;
    private GuestMemory memory;
    private SplitQueue queue;
    private int completedNow;
    private boolean flushFailed;
    private boolean zeroRangeUnsupported;
    private int writesInFlight;
    private boolean exclusiveActive;

    private long bounced;
    private long nowaitHits;
    private long retries;
    private long shortTransfers;
    private long ioErrors;
    private long flushErrors;
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
        nowaitReads = disk.nowaitReads();
        syncIoAll = disk.syncReadsAndWrites();
        mapping = disk.mapping();
        blockMask = disk.blockSize() - 1L;
        memoryMask = disk.memoryAlignment() - 1L;
        syncIo = nowaitReads || syncIoAll ? new FileIo() : null;
        bounce = direct ? new BlkBounce(BOUNCE_BUFFERS, Math.max(BOUNCE_BYTES, disk.blockSize()), disk.memoryAlignment()) : null;
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
        flushFailed = false;
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
                    beginTransfer(slot);
                }
            }
            case VirtioBlk.T_FLUSH ->
            {
                slot.stage = BlkSlot.FLUSH;
                if (!executor.flushNegotiated())
                {
                    slot.fail(BlkError.UNSUPPORTED);
                    finish(slot);
                }
                else if (flushFailed)
                {
                    slot.fail(BlkError.BACKEND_IO);
                    finish(slot);
                }
                else
                {
                    issueSync(slot);
                }
            }
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> beginSegments(slot);
            default ->
            {
                // GET_ID and unknown types move no file bytes: the synchronous executor answers them.
                final int used = executor.execute(memory, request);
                queue.addUsed(memory, slot.head, used);
                free[freeCount++] = slot.index;
                completedNow++;
            }
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
    // Reads and writes
    // ---------------------------------------------------------------------------------------------------------------

    private void beginTransfer(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean write = request.type() == VirtioBlk.T_OUT;
        if (write && exclusiveActive)
        {
            // A read-modify-write runs alone among writes: wait for it.
            defer(slot);
            return;
        }
        slot.stage = BlkSlot.TRANSFER;
        if (write)
        {
            writesInFlight++;
        }
        if (request.totalDataLen() == 0)
        {
            finishTransfer(slot);
        }
        else if (mapping != null)
        {
            copyMapped(slot);
        }
        else if (direct && misaligned(request))
        {
            bounced++;
            slot.stage = BlkSlot.BOUNCE_READ;
            bounceNext(slot);
        }
        else
        {
            issueTransfer(slot);
        }
    }

    private boolean misaligned(final BlkRequest request)
    {
        if (((request.sector() << VirtioBlk.SECTOR_SHIFT) & blockMask) != 0)
        {
            return true;
        }
        for (int i = 0; i < request.dataCount(); i++)
        {
            if ((request.dataLen(i) & blockMask) != 0 || (memory.hostAddress(request.dataAddr(i)) & memoryMask) != 0 ||
                memory.contiguousLength(request.dataAddr(i)) < Integer.toUnsignedLong(request.dataLen(i)))
            {
                return true;
            }
        }
        return false;
    }

    /**
     * A file on a memory file system, mapped: the request is a copy between its pages and guest memory. A fault
     * (the file was truncated under us) is IOERR for the request, never an error on the actor.
     */
    private void copyMapped(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean read = request.type() == VirtioBlk.T_IN;
        long offset = request.sector() << VirtioBlk.SECTOR_SHIFT;
        try
        {
            for (int i = 0; i < request.dataCount(); i++)
            {
                final long length = Integer.toUnsignedLong(request.dataLen(i));
                if (read)
                {
                    memory.write(request.dataAddr(i), mapping, offset, length);
                }
                else
                {
                    memory.read(request.dataAddr(i), mapping, offset, length);
                }
                offset += length;
            }
            nowaitHits++;
            if (!read && !executor.flushNegotiated() && syncIo.fdatasync(fd) < 0)
            {
                failIo(slot, -Errno.EIO);
            }
        }
        catch (final InternalError | RuntimeException e)
        {
            failIo(slot, -Errno.EIO);
        }
        finishTransfer(slot);
    }

    /** Fills the slot's iovec window from its progress cursor: up to {@link BlkSlot#IOVECS}, split at region ends. */
    private void buildWindow(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final GuestMemory memory = this.memory;
        int count = 0;
        long asked = 0;
        int desc = slot.descIndex;
        long within = slot.descOffset;
        while (desc < request.dataCount() && count < BlkSlot.IOVECS)
        {
            final long length = Integer.toUnsignedLong(request.dataLen(desc));
            if (within >= length)
            {
                desc++;
                within = 0;
                continue;
            }
            final long address = request.dataAddr(desc) + within;
            final long piece = Math.min(length - within, memory.contiguousLength(address));
            IoVecs.set(slot.iovecs, count++, memory.hostAddress(address), piece);
            asked += piece;
            within += piece;
        }
        slot.iovCount = count;
        slot.asked = asked;
    }

    /** Moves the progress cursor on by {@code bytes} done. */
    private static void advance(final BlkSlot slot, final long bytes)
    {
        final BlkRequest request = slot.request;
        long left = bytes;
        slot.done += bytes;
        while (left > 0 && slot.descIndex < request.dataCount())
        {
            final long rest = Integer.toUnsignedLong(request.dataLen(slot.descIndex)) - slot.descOffset;
            if (left < rest)
            {
                slot.descOffset += left;
                return;
            }
            left -= rest;
            slot.descIndex++;
            slot.descOffset = 0;
        }
    }

    private void issueTransfer(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean read = request.type() == VirtioBlk.T_IN;
        while (true)
        {
            buildWindow(slot);
            final long offset = (request.sector() << VirtioBlk.SECTOR_SHIFT) + slot.done;
            if (syncIoAll)
            {
                // A memory file system never waits for a device: the copy is done right here.
                final long got = read ? syncIo.preadv2(fd, slot.iovecs, slot.iovCount, offset, 0)
                    : syncIo.pwritev2(fd, slot.iovecs, slot.iovCount, offset, executor.flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
                nowaitHits++;
                onTransfer(slot, (int)Math.max(Integer.MIN_VALUE, got));
                return;
            }
            if (read && nowaitReads)
            {
                // A read the page cache holds is cheapest done right here; EAGAIN means it would block: use the ring.
                final long got = syncIo.preadv2(fd, slot.iovecs, slot.iovCount, offset, IoUringLayout.RWF_NOWAIT);
                if (got == slot.asked)
                {
                    nowaitHits++;
                    advance(slot, got);
                    if (slot.done == request.totalDataLen())
                    {
                        finishTransfer(slot);
                        return;
                    }
                    continue;
                }
                if (got > 0)
                {
                    advance(slot, got);
                    buildWindow(slot);
                }
            }
            final long at = (request.sector() << VirtioBlk.SECTOR_SHIFT) + slot.done;
            final boolean prepared = read ? io.prepareRead(slot.index, fd, slot.iovecs, slot.iovCount, at)
                : io.prepareWrite(slot.index, fd, slot.iovecs, slot.iovCount, at, executor.flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
            if (prepared)
            {
                slot.pending++;
            }
            else
            {
                defer(slot);
            }
            return;
        }
    }

    private void onTransfer(final BlkSlot slot, final int result)
    {
        final BlkRequest request = slot.request;
        if (result < 0)
        {
            if (retryable(slot, result))
            {
                issueTransfer(slot);
                return;
            }
            failIo(slot, result);
            finishTransfer(slot);
            return;
        }
        if (result == 0)
        {
            if (request.type() == VirtioBlk.T_IN)
            {
                // End of file (the file shrank under us): the rest reads as zeros, as QEMU does.
                zeroRest(slot);
            }
            else
            {
                failIo(slot, -Errno.ENOSPC);
            }
            finishTransfer(slot);
            return;
        }
        if (result < slot.asked)
        {
            shortTransfers++;
        }
        advance(slot, result);
        if (slot.done < request.totalDataLen())
        {
            issueTransfer(slot);
        }
        else
        {
            finishTransfer(slot);
        }
    }

    private void zeroRest(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        for (int i = slot.descIndex; i < request.dataCount(); i++)
        {
            final long from = i == slot.descIndex ? slot.descOffset : 0;
            memory.fill(request.dataAddr(i) + from, Integer.toUnsignedLong(request.dataLen(i)) - from, (byte)0);
        }
        slot.done = request.totalDataLen();
    }

    private void finishTransfer(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean read = request.type() == VirtioBlk.T_IN;
        if (!read)
        {
            writesInFlight--;
        }
        if (slot.exclusive)
        {
            exclusiveActive = false;
        }
        if (slot.error == null)
        {
            executor.countTransferred(read, request.totalDataLen());
            slot.dataWritten = read ? (int)request.totalDataLen() : 0;
        }
        finish(slot);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // O_DIRECT bounce: aligned chunks of at most one bounce buffer
    // ---------------------------------------------------------------------------------------------------------------

    private void bounceNext(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean write = request.type() == VirtioBlk.T_OUT;
        final long start = request.sector() << VirtioBlk.SECTOR_SHIFT;
        final long end = start + request.totalDataLen();
        final long position = start + slot.done;
        final long chunkStart = position & ~blockMask;
        final long chunkEnd = Math.min((end + blockMask) & ~blockMask, chunkStart + bounce.size());
        final boolean partial = chunkStart != position || chunkEnd > end;
        if (slot.bounce < 0)
        {
            if (write && partial && !slot.exclusive)
            {
                // Read-modify-write of blocks other writes may touch: alone among writes (ours counts itself).
                if (writesInFlight > 1 || exclusiveActive)
                {
                    defer(slot);
                    return;
                }
                exclusiveActive = true;
                slot.exclusive = true;
            }
            slot.bounce = bounce.take();
            if (slot.bounce < 0)
            {
                defer(slot);
                return;
            }
        }
        slot.chunkStart = chunkStart;
        slot.chunkLength = chunkEnd - chunkStart;
        if (write && !partial)
        {
            bounce.copy(memory, request, slot.done, slot.bounce, 0, slot.chunkLength, false);
            slot.stage = BlkSlot.BOUNCE_WRITE;
        }
        else
        {
            slot.stage = BlkSlot.BOUNCE_READ;
        }
        issueBounce(slot);
    }

    private void issueBounce(final BlkSlot slot)
    {
        IoVecs.set(slot.iovecs, 0, bounce.address(slot.bounce), slot.chunkLength);
        final boolean prepared = slot.stage == BlkSlot.BOUNCE_READ
            ? io.prepareRead(slot.index, fd, slot.iovecs, 1, slot.chunkStart)
            : io.prepareWrite(slot.index, fd, slot.iovecs, 1, slot.chunkStart, executor.flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
        if (prepared)
        {
            slot.pending++;
        }
        else
        {
            defer(slot);
        }
    }

    private void onBounce(final BlkSlot slot, final int result)
    {
        if (result < 0 || slot.stage == BlkSlot.BOUNCE_WRITE && result != slot.chunkLength)
        {
            if (result < 0 && retryable(slot, result))
            {
                issueBounce(slot);
                return;
            }
            failIo(slot, result < 0 ? result : -Errno.EIO);
            endBounce(slot);
            return;
        }
        final BlkRequest request = slot.request;
        final long start = request.sector() << VirtioBlk.SECTOR_SHIFT;
        final long position = start + slot.done;
        final long inChunk = Math.min(slot.chunkStart + slot.chunkLength, start + request.totalDataLen()) - position;
        if (slot.stage == BlkSlot.BOUNCE_READ)
        {
            if (result < slot.chunkLength)
            {
                // Past the end of the file: zeros.
                bounce.buffer(slot.bounce).asSlice(result, slot.chunkLength - result).fill((byte)0);
            }
            if (request.type() == VirtioBlk.T_OUT)
            {
                // Read-modify-write: the guest's bytes over the blocks just read, then the blocks go back.
                bounce.copy(memory, request, slot.done, slot.bounce, position - slot.chunkStart, inChunk, false);
                slot.stage = BlkSlot.BOUNCE_WRITE;
                issueBounce(slot);
                return;
            }
            bounce.copy(memory, request, slot.done, slot.bounce, position - slot.chunkStart, inChunk, true);
        }
        slot.done += inChunk;
        if (slot.done < request.totalDataLen())
        {
            bounceNext(slot);
        }
        else
        {
            endBounce(slot);
        }
    }

    private void endBounce(final BlkSlot slot)
    {
        if (slot.bounce >= 0)
        {
            bounce.give(slot.bounce);
            slot.bounce = -1;
        }
        finishTransfer(slot);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // FLUSH, DISCARD, WRITE_ZEROES
    // ---------------------------------------------------------------------------------------------------------------

    private void issueSync(final BlkSlot slot)
    {
        if (io.prepareFsync(slot.index, fd))
        {
            slot.pending++;
        }
        else
        {
            defer(slot);
        }
    }

    private void onSync(final BlkSlot slot, final int result)
    {
        if (result < 0)
        {
            if (retryable(slot, result))
            {
                issueSync(slot);
                return;
            }
            // An fdatasync error is never reported once and then forgotten: every later FLUSH fails too.
            flushFailed = true;
            flushErrors++;
            failIo(slot, result);
        }
        finish(slot);
    }

    private void beginSegments(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final BlkError invalid = executor.checkSegments(memory, request);
        if (invalid != null)
        {
            slot.fail(invalid);
            finish(slot);
            return;
        }
        final boolean discard = request.type() == VirtioBlk.T_DISCARD;
        // The segments are copied once and checked again as copied: the guest may have changed them meanwhile.
        int count = 0;
        for (int i = 0; i < request.dataCount(); i++)
        {
            final long length = Integer.toUnsignedLong(request.dataLen(i));
            for (long at = 0; at < length; at += VirtioBlk.SEGMENT_SIZE)
            {
                final long address = request.dataAddr(i) + at;
                final long sector = memory.getU64(address);
                final long sectors = Integer.toUnsignedLong(memory.getU32(address + 8));
                final int flags = memory.getU32(address + 12);
                if (!executor.checkSegment(discard, sector, sectors, flags) || count == slot.segOffset.length)
                {
                    slot.fail(BlkError.OUT_OF_RANGE);
                    finish(slot);
                    return;
                }
                if (sectors == 0)
                {
                    continue;
                }
                final boolean unmap = discard || (flags & VirtioBlk.WRITE_ZEROES_FLAG_UNMAP) != 0;
                slot.segOffset[count] = sector << VirtioBlk.SECTOR_SHIFT;
                slot.segLength[count] = sectors << VirtioBlk.SECTOR_SHIFT;
                slot.segMode[count] = unmap || zeroRangeUnsupported ? PUNCH : ZERO_RANGE;
                slot.allocateRound |= !unmap && zeroRangeUnsupported;
                count++;
            }
        }
        slot.segCount = count;
        slot.stage = BlkSlot.SEGMENTS;
        issueSegments(slot);
    }

    private void issueSegments(final BlkSlot slot)
    {
        final int count = slot.segCount;
        if (count == 0)
        {
            afterSegments(slot);
            return;
        }
        if (io.space() < count)
        {
            submit();
            if (io.space() < count)
            {
                defer(slot);
                return;
            }
        }
        final boolean allocate = slot.stage == BlkSlot.ALLOCATE;
        for (int i = 0; i < count; i++)
        {
            io.prepareFallocate(slot.index | (long)i << 32, fd, allocate ? 0 : slot.segMode[i], slot.segOffset[i], slot.segLength[i]);
        }
        slot.pending += count;
    }

    private void onSegment(final BlkSlot slot, final int segment, final int result)
    {
        if (result == -Errno.EOPNOTSUPP && slot.stage == BlkSlot.SEGMENTS)
        {
            if (slot.request.type() == VirtioBlk.T_DISCARD)
            {
                // DISCARD is a hint: a file system that cannot punch holes keeps the data.
                result(slot);
                return;
            }
            if (slot.segMode[segment] == ZERO_RANGE)
            {
                // No ZERO_RANGE here (tmpfs): punch the hole, then allocate the range again.
                zeroRangeUnsupported = true;
                slot.segMode[segment] = PUNCH;
                slot.allocateRound = true;
                if (io.prepareFallocate(slot.index | (long)segment << 32, fd, PUNCH, slot.segOffset[segment], slot.segLength[segment]))
                {
                    slot.pending++;
                    return;
                }
            }
        }
        if (result < 0)
        {
            failIo(slot, result);
        }
        result(slot);
    }

    /** One segment operation is done: when all are, the next round. */
    private void result(final BlkSlot slot)
    {
        if (slot.pending == 0)
        {
            afterSegments(slot);
        }
    }

    private void afterSegments(final BlkSlot slot)
    {
        if (slot.error != null)
        {
            finish(slot);
        }
        else if (slot.stage == BlkSlot.SEGMENTS && slot.allocateRound)
        {
            slot.stage = BlkSlot.ALLOCATE;
            issueSegments(slot);
        }
        else if (!executor.flushNegotiated())
        {
            slot.stage = BlkSlot.SYNC;
            issueSync(slot);
        }
        else
        {
            finish(slot);
        }
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
            case BlkSlot.TRANSFER -> onTransfer(slot, result);
            case BlkSlot.FLUSH, BlkSlot.SYNC -> onSync(slot, result);
            case BlkSlot.SEGMENTS, BlkSlot.ALLOCATE -> onSegment(slot, (int)(tag >>> 32), result);
            default -> onBounce(slot, result);
        }
    }

    private boolean retryable(final BlkSlot slot, final int result)
    {
        if ((result == -Errno.EAGAIN || result == -Errno.EINTR) && slot.retries < MAX_RETRIES)
        {
            slot.retries++;
            retries++;
            return true;
        }
        return false;
    }

    private void failIo(final BlkSlot slot, final int result)
    {
        ioErrors++;
        lastErrno = -result;
        slot.fail(BlkError.BACKEND_IO);
    }

    private void defer(final BlkSlot slot)
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
                if (slot.done == 0 && slot.descIndex == 0 && slot.descOffset == 0 && slot.pending == 0 && !counted(slot))
                {
                    beginTransfer(slot);
                }
                else
                {
                    issueTransfer(slot);
                }
            }
            case BlkSlot.FLUSH, BlkSlot.SYNC -> issueSync(slot);
            case BlkSlot.SEGMENTS, BlkSlot.ALLOCATE -> issueSegments(slot);
            default ->
            {
                if (slot.bounce < 0)
                {
                    bounceNext(slot);
                }
                else
                {
                    issueBounce(slot);
                }
            }
        }
    }

    /** A write deferred before it started (waiting for a read-modify-write) has not been counted in flight yet. */
    private boolean counted(final BlkSlot slot)
    {
        return slot.iovCount > 0;
    }

    /** Writes the status byte and the used element, and frees the slot. */
    private void finish(final BlkSlot slot)
    {
        final int status = executor.status(slot.error);
        memory.putU8(slot.request.statusAddr(), status);
        final int used = slot.error == null ? slot.dataWritten + 1 : 1;
        queue.addUsed(memory, slot.head, used);
        free[freeCount++] = slot.index;
        completedNow++;
    }

    long bounced()
    {
        return bounced;
    }

    long nowaitHits()
    {
        return nowaitHits;
    }

    long retries()
    {
        return retries;
    }

    long shortTransfers()
    {
        return shortTransfers;
    }

    long ioErrors()
    {
        return ioErrors;
    }

    long flushErrors()
    {
        return flushErrors;
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
        if (syncIo != null)
        {
            syncIo.close();
        }
        if (bounce != null)
        {
            bounce.close();
        }
        arena.close();
    }
}
