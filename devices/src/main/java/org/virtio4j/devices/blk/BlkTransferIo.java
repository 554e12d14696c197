package org.virtio4j.devices.blk;

import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.FileIo;
import org.virtio4j.memory.linux.IoUringLayout;
import org.virtio4j.virtio.VirtioBlk;

/**
 * Reads and writes of an asynchronous queue: the request's data descriptors become a window of iovecs pointing
 * straight into guest memory (split where guest regions end), one READ or WRITE (vectored for several) per
 * window, continued where a short transfer stopped, retried on EAGAIN/EINTR, zeros past the end of the file. A
 * file on a memory file system is copied at once instead (mapped, or with a synchronous preadv2/pwritev2), and a
 * buffered read may first try the page cache with RWF_NOWAIT; O_DIRECT requests that are not aligned go to
 * {@link BlkDirectIo}. Writes are counted so that a read-modify-write can run alone among them.
 *
 * <p>Owned by the queue's actor, like the queue.
 */
final class BlkTransferIo implements AutoCloseable
{
    private final BlkAsyncQueue queue;
    private final int fd;
    private final boolean direct;
    private final boolean nowaitReads;
    private final boolean syncIoAll;
    private final MemorySegment mapping;
    private final FileIo syncIo;
    private final BlkWriteGate gate;
    private long syncTransfers;
    private long shortTransfers;

    BlkTransferIo(final BlkAsyncQueue queue, final FileDisk disk)
    {
        this.queue = queue;
        fd = disk.fd();
        direct = disk.direct();
        nowaitReads = disk.nowaitReads();
        syncIoAll = disk.syncReadsAndWrites();
        mapping = disk.mapping();
        syncIo = nowaitReads || syncIoAll ? new FileIo() : null;
        gate = disk.writeGate();
    }

    void begin(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean write = request.type() == VirtioBlk.T_OUT;
        if (write && direct && !gate.enter(false))
        {
            // A read-modify-write (on any queue of this file) runs alone among writes: wait for it.
            queue.defer(slot);
            return;
        }
        slot.stage = BlkSlot.TRANSFER;
        slot.begun = true;
        if (request.totalDataLen() == 0)
        {
            finish(slot);
        }
        else if (mapping != null)
        {
            copyMapped(slot);
        }
        else if (direct && queue.directIo().misaligned(request))
        {
            queue.bounced(1);
            slot.stage = BlkSlot.BOUNCE_READ;
            queue.directIo().next(slot);
        }
        else
        {
            issue(slot);
        }
    }

    /**
     * A file on a memory file system, mapped: the request is a copy between its pages and guest queue.memory(). A fault
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
                    queue.memory().write(request.dataAddr(i), mapping, offset, length);
                }
                else
                {
                    queue.memory().read(request.dataAddr(i), mapping, offset, length);
                }
                offset += length;
            }
            syncTransfers++;
            if (!read && !queue.executor().flushNegotiated() && syncIo.fdatasync(fd) < 0)
            {
                queue.failIo(slot, -Errno.EIO);
            }
        }
        catch (final InternalError | RuntimeException e)
        {
            queue.failIo(slot, -Errno.EIO);
        }
        finish(slot);
    }

    /** Fills the slot's iovec window from its progress cursor: up to {@link BlkSlot#IOVECS}, split at region ends. */
    private void buildWindow(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final GuestMemory memory = queue.memory();
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
            final long piece = Math.min(length - within, queue.memory().contiguousLength(address));
            IoVecs.set(slot.iovecs, count++, queue.memory().hostAddress(address), piece);
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

    void issue(final BlkSlot slot)
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
                    : syncIo.pwritev2(fd, slot.iovecs, slot.iovCount, offset, queue.executor().flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
                syncTransfers++;
                complete(slot, (int)Math.max(Integer.MIN_VALUE, got));
                return;
            }
            if (read && nowaitReads)
            {
                // A read the page cache holds is cheapest done right here; EAGAIN means it would block: use the ring.
                final long got = syncIo.preadv2(fd, slot.iovecs, slot.iovCount, offset, IoUringLayout.RWF_NOWAIT);
                if (got == slot.asked)
                {
                    syncTransfers++;
                    advance(slot, got);
                    if (slot.done == request.totalDataLen())
                    {
                        finish(slot);
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
            final boolean prepared = read ? queue.io().prepareRead(slot.index, fd, slot.iovecs, slot.iovCount, at)
                : queue.io().prepareWrite(slot.index, fd, slot.iovecs, slot.iovCount, at, queue.executor().flushNegotiated() ? 0 : IoUringLayout.RWF_DSYNC);
            if (prepared)
            {
                slot.pending++;
            }
            else
            {
                queue.defer(slot);
            }
            return;
        }
    }

    void complete(final BlkSlot slot, final int result)
    {
        final BlkRequest request = slot.request;
        if (result < 0)
        {
            if (queue.retryable(slot, result))
            {
                issue(slot);
                return;
            }
            queue.failIo(slot, result);
            finish(slot);
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
                queue.failIo(slot, -Errno.ENOSPC);
            }
            finish(slot);
            return;
        }
        if (result < slot.asked)
        {
            shortTransfers++;
        }
        advance(slot, result);
        if (slot.done < request.totalDataLen())
        {
            issue(slot);
        }
        else
        {
            finish(slot);
        }
    }

    /**
     * While the guest migrates, the pages a read filled are dirty: the kernel stored into them (io_uring, preadv2),
     * not guest memory's own methods. Every data buffer is marked whole, done or not (a failed read may have
     * stored some bytes).
     */
    private void markRead(final BlkRequest request)
    {
        final GuestMemory memory = queue.memory();
        if (memory.dirtyLog() == null)
        {
            return;
        }
        for (int i = 0; i < request.dataCount(); i++)
        {
            memory.markDirty(request.dataAddr(i), Integer.toUnsignedLong(request.dataLen(i)));
        }
    }

    private void zeroRest(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        for (int i = slot.descIndex; i < request.dataCount(); i++)
        {
            final long from = i == slot.descIndex ? slot.descOffset : 0;
            queue.memory().fill(request.dataAddr(i) + from, Integer.toUnsignedLong(request.dataLen(i)) - from, (byte)0);
        }
        slot.done = request.totalDataLen();
    }

    void finish(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final boolean read = request.type() == VirtioBlk.T_IN;
        if (!read && direct)
        {
            gate.leave();
        }
        if (slot.exclusive)
        {
            gate.release();
            slot.exclusive = false;
        }
        if (read)
        {
            markRead(request);
        }
        if (slot.error == null)
        {
            queue.executor().countTransferred(read, request.totalDataLen());
            slot.dataWritten = read ? (int)request.totalDataLen() : 0;
        }
        queue.finish(slot);
    }

    /** @return the gate of the file's writes (O_DIRECT read-modify-write). */
    BlkWriteGate gate()
    {
        return gate;
    }

    long syncTransfers()
    {
        return syncTransfers;
    }

    long shortTransfers()
    {
        return shortTransfers;
    }

    @Override
    public void close()
    {
        if (syncIo != null)
        {
            syncIo.close();
        }
    }
}
