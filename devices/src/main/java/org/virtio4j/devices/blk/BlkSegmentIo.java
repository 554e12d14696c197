package org.virtio4j.devices.blk;

import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.virtio.VirtioBlk;

/**
 * FLUSH, DISCARD and WRITE_ZEROES of an asynchronous queue: fdatasync (an error is sticky: every later FLUSH fails
 * until the device is reset, never reported once and forgotten), and one fallocate per segment, all in flight at
 * once — punch-hole for DISCARD and unmapping WRITE_ZEROES, zero-range otherwise (punch then allocate where the
 * file system has no zero-range, as tmpfs) — then an fdatasync when the driver did not negotiate FLUSH. The
 * segments are copied from guest memory once and checked again as copied.
 *
 * <p>Owned by the queue's actor, like the queue.
 */
final class BlkSegmentIo
{
    private static final int PUNCH = Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE;
    private static final int ZERO_RANGE = Linux.FALLOC_FL_ZERO_RANGE | Linux.FALLOC_FL_KEEP_SIZE;

    private final BlkAsyncQueue queue;
    private boolean zeroRangeUnsupported;
    private long flushErrors;

    BlkSegmentIo(final BlkAsyncQueue queue)
    {
        this.queue = queue;
    }

    /** A FLUSH request: fails at once if FLUSH was not negotiated or an earlier fdatasync failed. */
    void flush(final BlkSlot slot)
    {
        slot.stage = BlkSlot.FLUSH;
        if (!queue.executor().flushNegotiated())
        {
            slot.fail(BlkError.UNSUPPORTED);
            queue.finish(slot);
        }
        else if (queue.disk().flushFailed())
        {
            slot.fail(BlkError.BACKEND_IO);
            queue.finish(slot);
        }
        else
        {
            issueSync(slot);
        }
    }

    /** The device was reset: a failed fdatasync is forgotten. */
    void reset()
    {
        queue.disk().clearFlushError();
    }

    long flushErrors()
    {
        return flushErrors;
    }

    void issueSync(final BlkSlot slot)
    {
        if (queue.io().prepareFsync(slot.index, queue.fd()))
        {
            slot.pending++;
        }
        else
        {
            queue.defer(slot);
        }
    }

    void onSync(final BlkSlot slot, final int result)
    {
        if (result < 0)
        {
            if (queue.retryable(slot, result))
            {
                issueSync(slot);
                return;
            }
            // An fdatasync error is never reported once and then forgotten: every later FLUSH fails too.
            queue.disk().flushError();
            flushErrors++;
            queue.failIo(slot, result);
        }
        queue.finish(slot);
    }

    void begin(final BlkSlot slot)
    {
        final BlkRequest request = slot.request;
        final BlkError invalid = queue.executor().checkSegments(queue.memory(), request);
        if (invalid != null)
        {
            slot.fail(invalid);
            queue.finish(slot);
            return;
        }
        final boolean discard = request.type() == VirtioBlk.T_DISCARD;
        // The segments are copied once and checked again as copied: the guest may have changed them meanwhile.
        int count = 0;
        long totalSectors = 0;
        for (int i = 0; i < request.dataCount(); i++)
        {
            final long length = Integer.toUnsignedLong(request.dataLen(i));
            for (long at = 0; at < length; at += VirtioBlk.SEGMENT_SIZE)
            {
                final long address = request.dataAddr(i) + at;
                final long sector = queue.memory().getU64(address);
                final long sectors = Integer.toUnsignedLong(queue.memory().getU32(address + 8));
                final int flags = queue.memory().getU32(address + 12);
                if (!queue.executor().checkSegment(discard, sector, sectors, flags) || count == slot.segOffset.length)
                {
                    slot.fail(BlkError.OUT_OF_RANGE);
                    queue.finish(slot);
                    return;
                }
                totalSectors += sectors;
                if (totalSectors > queue.executor().capacitySectors())
                {
                    slot.fail(BlkError.SEGMENTS_EXCEED_DISK);
                    queue.finish(slot);
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
        issue(slot);
    }

    void issue(final BlkSlot slot)
    {
        final int count = slot.segCount;
        if (count == 0)
        {
            afterSegments(slot);
            return;
        }
        if (queue.io().space() < count)
        {
            queue.submit();
            if (queue.io().space() < count)
            {
                queue.defer(slot);
                return;
            }
        }
        final boolean allocate = slot.stage == BlkSlot.ALLOCATE;
        for (int i = 0; i < count; i++)
        {
            queue.io().prepareFallocate(slot.index | (long)i << 32, queue.fd(), allocate ? 0 : slot.segMode[i], slot.segOffset[i], slot.segLength[i]);
        }
        slot.pending += count;
    }

    void complete(final BlkSlot slot, final int segment, final int result)
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
                if (queue.io().prepareFallocate(slot.index | (long)segment << 32, queue.fd(), PUNCH, slot.segOffset[segment], slot.segLength[segment]))
                {
                    slot.pending++;
                    return;
                }
            }
        }
        if (result < 0)
        {
            queue.failIo(slot, result);
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
            queue.finish(slot);
        }
        else if (slot.stage == BlkSlot.SEGMENTS && slot.allocateRound)
        {
            slot.stage = BlkSlot.ALLOCATE;
            issue(slot);
        }
        else if (!queue.executor().flushNegotiated())
        {
            slot.stage = BlkSlot.SYNC;
            issueSync(slot);
        }
        else
        {
            queue.finish(slot);
        }
    }

}
