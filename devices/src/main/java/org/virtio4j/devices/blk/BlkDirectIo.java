package org.virtio4j.devices.blk;

import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.IoUringLayout;
import org.virtio4j.virtio.VirtioBlk;

/**
 * The O_DIRECT path of an asynchronous queue for requests the file cannot take as they are (a guest buffer, offset
 * or length not aligned to what O_DIRECT needs): the data moves through an aligned bounce buffer in chunks of at
 * most one buffer, read into it and copied to the guest, or copied from the guest and written; a chunk that does
 * not cover whole logical blocks is read first and patched (a read-modify-write, which runs alone among writes so
 * that no acknowledged write can be lost to it).
 *
 * <p>Owned by the queue's actor, like the queue.
 */
final class BlkDirectIo implements AutoCloseable
{
    private static final int BOUNCE_BUFFERS = 8;
    private static final int BOUNCE_BYTES = 1 << 20;

    private final BlkAsyncQueue queue;
    private final BlkBounce bounce;
    private final long blockMask;
    private final long memoryMask;

    BlkDirectIo(final BlkAsyncQueue queue, final FileDisk disk)
    {
        this.queue = queue;
        this.bounce = new BlkBounce(BOUNCE_BUFFERS, Math.max(BOUNCE_BYTES, disk.blockSize()), disk.memoryAlignment());
        this.blockMask = disk.blockSize() - 1L;
        this.memoryMask = disk.memoryAlignment() - 1L;
    }

    void next(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean write = request.type() == VirtioBlk.T_OUT;
        final long start = request.sector() << VirtioBlk.SECTOR_SHIFT;
        final long end = start + request.totalDataLen();
        final long position = start + slot.done;
        final long chunkStart = position & ~blockMask;
        final long chunkEnd = Math.min((end + blockMask) & ~blockMask, chunkStart + bounce.size());
        final boolean partial = chunkStart != position || chunkEnd > end;
        if (write && partial)
        {
            // Read-modify-write of blocks other writes may touch: take the gate, then wait until ours is the only
            // write in flight on the file (every queue's).
            final BlkWriteGate gate = queue.transferIo().gate();
            if (!slot.exclusive)
            {
                if (!gate.tryHold())
                {
                    // Another read-modify-write holds it: stop counting as a write in flight (it waits for those)
                    // and start over once it is done.
                    gate.leave();
                    slot.begun = false;
                    slot.stage = BlkSlot.TRANSFER;
                    queue.defer(slot);
                    return;
                }
                slot.exclusive = true;
            }
            if (!gate.alone())
            {
                queue.defer(slot);
                return;
            }
        }
        if (slot.bounce < 0)
        {
            slot.bounce = bounce.take();
            if (slot.bounce < 0)
            {
                queue.defer(slot);
                return;
            }
        }
        slot.chunkStart = chunkStart;
        slot.chunkLength = chunkEnd - chunkStart;
        if (write && !partial)
        {
            bounce.copy(queue.memory(), request, slot.done, slot.bounce, 0, slot.chunkLength, false);
            slot.stage = BlkSlot.BOUNCE_WRITE;
        }
        else
        {
            slot.stage = BlkSlot.BOUNCE_READ;
        }
        issue(slot);
    }

    void issue(final BlkSlot slot)
    {
        IoVecs.set(slot.iovecs, 0, bounce.address(slot.bounce), slot.chunkLength);
        final boolean prepared = slot.stage == BlkSlot.BOUNCE_READ
            ? queue.io().prepareRead(slot.index, queue.fd(), slot.iovecs, 1, slot.chunkStart)
            : queue.io().prepareWrite(slot.index, queue.fd(), slot.iovecs, 1, slot.chunkStart, queue.executor().flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
        if (prepared)
        {
            slot.pending++;
        }
        else
        {
            queue.defer(slot);
        }
    }

    void complete(final BlkSlot slot, final int result)
    {
        if (result < 0 || slot.stage == BlkSlot.BOUNCE_WRITE && result != slot.chunkLength)
        {
            if (result < 0 && queue.retryable(slot, result))
            {
                issue(slot);
                return;
            }
            queue.failIo(slot, result < 0 ? result : -Errno.EIO);
            end(slot);
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
                bounce.copy(queue.memory(), request, slot.done, slot.bounce, position - slot.chunkStart, inChunk, false);
                slot.stage = BlkSlot.BOUNCE_WRITE;
                issue(slot);
                return;
            }
            bounce.copy(queue.memory(), request, slot.done, slot.bounce, position - slot.chunkStart, inChunk, true);
        }
        slot.done += inChunk;
        if (slot.done < request.totalDataLen())
        {
            next(slot);
        }
        else
        {
            end(slot);
        }
    }

    private void end(final BlkSlot slot)
    {
        if (slot.bounce >= 0)
        {
            bounce.give(slot.bounce);
            slot.bounce = -1;
        }
        queue.transferIo().finish(slot);
    }

    boolean misaligned(final BlkRequest request)
    {
        if (((request.sector() << VirtioBlk.SECTOR_SHIFT) & blockMask) != 0)
        {
            return true;
        }
        for (int i = 0; i < request.dataCount(); i++)
        {
            if ((request.dataLen(i) & blockMask) != 0 || (queue.memory().hostAddress(request.dataAddr(i)) & memoryMask) != 0 ||
                queue.memory().contiguousLength(request.dataAddr(i)) < Integer.toUnsignedLong(request.dataLen(i)))
            {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close()
    {
        bounce.close();
    }
}
