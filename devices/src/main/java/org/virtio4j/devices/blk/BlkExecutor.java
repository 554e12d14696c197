package org.virtio4j.devices.blk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

/**
 * Executes parsed virtio-blk requests against a {@link BlkBackend} and writes the status byte.
 *
 * <p>Every check is made before any byte moves, so a failed request never writes partly past the end of the disk
 * and never writes the backend from a buffer that is not all in guest memory: sector ranges (with overflow
 * checks) against the capacity, lengths (multiples of 512, at most 2^32 - 1), data buffers (in guest memory, of
 * the right direction), DISCARD/WRITE_ZEROES segments (16 bytes each, flags, advertised limits). The used length
 * returned is exactly the bytes the device wrote into the chain: data for IN and GET_ID, plus the status byte.
 *
 * <p>Allocates nothing per request. Not thread-safe: one per device actor.
 */
public final class BlkExecutor
{
    private static final long U32_MAX = 0xffff_ffffL;

    private final BlkBackend backend;
    private final BlkOptions options;
    private final long capacitySectors;
    private final byte[] serial = new byte[VirtioBlk.ID_BYTES];
    private final long[] errors = new long[BlkError.values().length];
    private long features;
    private boolean segmentLimitHit;
    private long bytesRead;
    private long bytesWritten;
    /** A flush failed: the pages it lost are clean to the kernel now, so every later flush fails until reset. */
    private boolean flushFailed;

    /**
     * @param backend where the bytes are.
     * @param options what the device advertises.
     */
    public BlkExecutor(final BlkBackend backend, final BlkOptions options)
    {
        this.backend = backend;
        this.options = options;
        this.capacitySectors = backend.capacity() >> VirtioBlk.SECTOR_SHIFT;
        final byte[] id = options.serial().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(id, 0, serial, 0, id.length);
    }

    /** @param negotiated the features the driver accepted (FLUSH, DISCARD, WRITE_ZEROES gate those requests). */
    public void setFeatures(final long negotiated)
    {
        features = negotiated;
        flushFailed = false;
    }

    /**
     * Runs a request and writes its status byte.
     *
     * @param memory  the guest's memory.
     * @param request a parsed request.
     * @return the used length: bytes written into the chain, status byte included.
     */
    public int execute(final GuestMemory memory, final BlkRequest request)
    {
        final long dataWritten;
        final BlkError error;
        final int type = request.type();
        segmentLimitHit = false;
        switch (type)
        {
            case VirtioBlk.T_IN ->
            {
                error = transfer(memory, request, true);
                dataWritten = error == null ? request.totalDataLen() : 0;
            }
            case VirtioBlk.T_OUT ->
            {
                error = options.readOnly() ? BlkError.READ_ONLY : durable(transfer(memory, request, false));
                dataWritten = 0;
            }
            case VirtioBlk.T_FLUSH ->
            {
                error = negotiated(VirtioBlk.F_FLUSH) ? flush() : BlkError.UNSUPPORTED;
                dataWritten = 0;
            }
            case VirtioBlk.T_GET_ID ->
            {
                error = getId(memory, request);
                dataWritten = error == null ? VirtioBlk.ID_BYTES : 0;
            }
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES ->
            {
                error = options.readOnly() ? BlkError.READ_ONLY : durable(segments(memory, request));
                dataWritten = 0;
            }
            default ->
            {
                error = BlkError.UNSUPPORTED;
                dataWritten = 0;
            }
        }
        memory.putU8(request.statusAddr(), status(error));
        return (int)(dataWritten + 1);
    }

    /**
     * Counts a failure and maps it to the status byte (OK for none).
     *
     * @param error the failure of the request just checked or executed, or null.
     * @return its status.
     */
    int status(final BlkError error)
    {
        if (error == null)
        {
            return VirtioBlk.S_OK;
        }
        errors[error.ordinal()]++;
        // Too many segments is UNSUPP (virtio 1.2 section 5.2.6.2); too many sectors is IOERR.
        return error == BlkError.UNSUPPORTED || error == BlkError.BAD_FLAGS ||
            (error == BlkError.LIMIT_EXCEEDED && segmentLimitHit) ? VirtioBlk.S_UNSUPP : VirtioBlk.S_IOERR;
    }

    /**
     * Every check an IN or OUT request passes before any byte moves (for executors that move the bytes
     * themselves): read-only, length, range, segment limits, buffers in guest memory and of the right direction.
     *
     * @param memory  the guest's memory.
     * @param request the request.
     * @return null if it may run, else why not (pass it to {@link #status}).
     */
    BlkError checkTransfer(final GuestMemory memory, final BlkRequest request)
    {
        segmentLimitHit = false;
        final boolean toGuest = request.type() == VirtioBlk.T_IN;
        if (!toGuest && options.readOnly())
        {
            return BlkError.READ_ONLY;
        }
        return checkBuffers(memory, request, toGuest);
    }

    /**
     * Every check a DISCARD or WRITE_ZEROES request passes before any range is changed: feature, read-only,
     * segment layout, flags, limits and ranges. The caller reads the segments again and re-checks each with
     * {@link #checkSegment} (the guest may change them meanwhile).
     *
     * @param memory  the guest's memory.
     * @param request the request.
     * @return null if it may run, else why not.
     */
    BlkError checkSegments(final GuestMemory memory, final BlkRequest request)
    {
        segmentLimitHit = false;
        return options.readOnly() ? BlkError.READ_ONLY : validateSegments(memory, request);
    }

    /**
     * @param discard true for DISCARD, false for WRITE_ZEROES.
     * @param sector  the first sector.
     * @param sectors the sector count.
     * @param flags   the segment's flags.
     * @return true if the segment is still within every limit.
     */
    boolean checkSegment(final boolean discard, final long sector, final long sectors, final int flags)
    {
        final long maxSectors = Integer.toUnsignedLong(discard ? options.maxDiscardSectors() : options.maxWriteZeroesSectors());
        final int allowedFlags = discard ? 0 : VirtioBlk.WRITE_ZEROES_FLAG_UNMAP;
        return (flags & ~allowedFlags) == 0 && sectors <= maxSectors && checkRange(sector, sectors) == null;
    }

    /** @return the disk's size in sectors (what one DISCARD/WRITE_ZEROES may cover in all, however its segments overlap). */
    long capacitySectors()
    {
        return capacitySectors;
    }

    /** @return true if FLUSH was negotiated (otherwise writes must be durable before they complete). */
    boolean flushNegotiated()
    {
        return negotiated(VirtioBlk.F_FLUSH);
    }

    /**
     * Counts bytes moved by an asynchronous executor.
     *
     * @param toGuest true for a read.
     * @param bytes   the bytes.
     */
    void countTransferred(final boolean toGuest, final long bytes)
    {
        if (toGuest)
        {
            bytesRead += bytes;
        }
        else
        {
            bytesWritten += bytes;
        }
    }

    private boolean negotiated(final int feature)
    {
        return VirtioFeatures.has(features, feature);
    }

    private BlkError transfer(final GuestMemory memory, final BlkRequest request, final boolean toGuest)
    {
        final BlkError invalid = checkBuffers(memory, request, toGuest);
        if (invalid != null)
        {
            return invalid;
        }
        final long total = request.totalDataLen();
        final int count = request.dataCount();
        long offset = request.sector() << VirtioBlk.SECTOR_SHIFT;
        try
        {
            for (int i = 0; i < count; i++)
            {
                final int length = request.dataLen(i);
                if (toGuest)
                {
                    backend.read(offset, memory, request.dataAddr(i), length);
                }
                else
                {
                    backend.write(offset, memory, request.dataAddr(i), length);
                }
                offset += Integer.toUnsignedLong(length);
            }
        }
        catch (final IOException | RuntimeException e)
        {
            // GuestMemoryException cannot happen (ranges checked above); a channel opened read-only throws
            // NonWritableChannelException: every backend failure is IOERR, never an escaped exception.
            return BlkError.BACKEND_IO;
        }
        countTransferred(toGuest, total);
        return null;
    }

    private BlkError checkBuffers(final GuestMemory memory, final BlkRequest request, final boolean toGuest)
    {
        final long total = request.totalDataLen();
        if (total % VirtioBlk.SECTOR_SIZE != 0 || total > U32_MAX)
        {
            return BlkError.BAD_LENGTH;
        }
        final BlkError range = checkRange(request.sector(), total >> VirtioBlk.SECTOR_SHIFT);
        if (range != null)
        {
            return range;
        }
        final int count = request.dataCount();
        if (count > options.segMax())
        {
            segmentLimitHit = true;
            return BlkError.LIMIT_EXCEEDED;
        }
        for (int i = 0; i < count; i++)
        {
            if (Integer.toUnsignedLong(request.dataLen(i)) > Integer.toUnsignedLong(options.sizeMax()))
            {
                return BlkError.LIMIT_EXCEEDED;
            }
            if (toGuest && !request.dataWritable(i) ||
                !memory.checkRange(request.dataAddr(i), Integer.toUnsignedLong(request.dataLen(i))))
            {
                return BlkError.BAD_BUFFER;
            }
        }
        return null;
    }

    /** Sectors [sector, sector + count) must lie on the disk; the sum and the byte offset must not overflow. */
    private BlkError checkRange(final long sector, final long count)
    {
        final long end = sector + count;
        if (Long.compareUnsigned(end, sector) < 0 || Long.compareUnsigned(end, capacitySectors) > 0)
        {
            return BlkError.OUT_OF_RANGE;
        }
        return null;
    }

    /**
     * A driver that did not take FLUSH was promised a write-through cache (Linux assumes one): its writes reach
     * stable storage before they complete.
     */
    private BlkError durable(final BlkError error)
    {
        return error == null && !negotiated(VirtioBlk.F_FLUSH) ? flush() : error;
    }

    /**
     * Once fsync reported a writeback error, Linux marks the pages clean and the next fsync succeeds: a guest
     * that retried would be told its data is safe. So a failure is never forgotten until the device is reset.
     */
    private BlkError flush()
    {
        if (flushFailed)
        {
            return BlkError.BACKEND_IO;
        }
        try
        {
            backend.flush();
            return null;
        }
        catch (final IOException | RuntimeException e)
        {
            flushFailed = true;
            return BlkError.BACKEND_IO;
        }
    }

    private BlkError getId(final GuestMemory memory, final BlkRequest request)
    {
        if (options.serial().isEmpty())
        {
            return BlkError.UNSUPPORTED;
        }
        if (request.totalDataLen() != VirtioBlk.ID_BYTES)
        {
            return BlkError.BAD_LENGTH;
        }
        for (int i = 0; i < request.dataCount(); i++)
        {
            if (!request.dataWritable(i) || !memory.checkRange(request.dataAddr(i), Integer.toUnsignedLong(request.dataLen(i))))
            {
                return BlkError.BAD_BUFFER;
            }
        }
        int copied = 0;
        for (int i = 0; i < request.dataCount(); i++)
        {
            final int length = request.dataLen(i);
            memory.write(request.dataAddr(i), serial, copied, length);
            copied += length;
        }
        return null;
    }

    private BlkError segments(final GuestMemory memory, final BlkRequest request)
    {
        final BlkError invalid = validateSegments(memory, request);
        if (invalid != null)
        {
            return invalid;
        }
        final boolean discard = request.type() == VirtioBlk.T_DISCARD;
        // Second pass: apply. The guest may have changed the segments meanwhile; they are checked again as read.
        long totalSectors = 0;
        try
        {
            for (int i = 0; i < request.dataCount(); i++)
            {
                final long length = Integer.toUnsignedLong(request.dataLen(i));
                for (long done = 0; done < length; done += VirtioBlk.SEGMENT_SIZE)
                {
                    final long at = request.dataAddr(i) + done;
                    final long sector = memory.getU64(at);
                    final long sectors = Integer.toUnsignedLong(memory.getU32(at + 8));
                    final int flags = memory.getU32(at + 12);
                    if (!checkSegment(discard, sector, sectors, flags))
                    {
                        return BlkError.OUT_OF_RANGE;
                    }
                    totalSectors += sectors;
                    if (totalSectors > capacitySectors)
                    {
                        return BlkError.SEGMENTS_EXCEED_DISK;
                    }
                    final long offset = sector << VirtioBlk.SECTOR_SHIFT;
                    final long bytes = sectors << VirtioBlk.SECTOR_SHIFT;
                    if (discard)
                    {
                        backend.discard(offset, bytes);
                    }
                    else
                    {
                        backend.writeZeroes(offset, bytes, (flags & VirtioBlk.WRITE_ZEROES_FLAG_UNMAP) != 0);
                    }
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            // A backend that cannot write (a read-only channel) or a guest that changed the segments meanwhile.
            return BlkError.BACKEND_IO;
        }
        return null;
    }

    private BlkError validateSegments(final GuestMemory memory, final BlkRequest request)
    {
        final boolean discard = request.type() == VirtioBlk.T_DISCARD;
        if (!negotiated(discard ? VirtioBlk.F_DISCARD : VirtioBlk.F_WRITE_ZEROES))
        {
            return BlkError.UNSUPPORTED;
        }
        final long maxSectors = Integer.toUnsignedLong(discard ? options.maxDiscardSectors() : options.maxWriteZeroesSectors());
        final int maxSegments = discard ? options.maxDiscardSegments() : options.maxWriteZeroesSegments();
        final int allowedFlags = discard ? 0 : VirtioBlk.WRITE_ZEROES_FLAG_UNMAP;
        // First pass: every segment checked before any is applied.
        long segmentCount = 0;
        long totalSectors = 0;
        for (int i = 0; i < request.dataCount(); i++)
        {
            final long length = Integer.toUnsignedLong(request.dataLen(i));
            if (length % VirtioBlk.SEGMENT_SIZE != 0)
            {
                return BlkError.BAD_LENGTH;
            }
            if (GuestAddress.addOverflows(request.dataAddr(i), length) || !memory.checkRange(request.dataAddr(i), length))
            {
                return BlkError.BAD_BUFFER;
            }
            segmentCount += length / VirtioBlk.SEGMENT_SIZE;
            if (segmentCount > maxSegments)
            {
                segmentLimitHit = true;
                return BlkError.LIMIT_EXCEEDED;
            }
            for (long done = 0; done < length; done += VirtioBlk.SEGMENT_SIZE)
            {
                final long at = request.dataAddr(i) + done;
                final long sector = memory.getU64(at);
                final long sectors = Integer.toUnsignedLong(memory.getU32(at + 8));
                final int flags = memory.getU32(at + 12);
                if ((flags & ~allowedFlags) != 0)
                {
                    return BlkError.BAD_FLAGS;
                }
                if (sectors > maxSectors)
                {
                    return BlkError.LIMIT_EXCEEDED;
                }
                final BlkError range = checkRange(sector, sectors);
                if (range != null)
                {
                    return range;
                }
                // Bounded work per request: at most the disk once, however the segments overlap.
                totalSectors += sectors;
                if (totalSectors > capacitySectors)
                {
                    return BlkError.SEGMENTS_EXCEED_DISK;
                }
            }
        }
        return null;
    }

    /**
     * @param error a failure reason.
     * @return how many requests failed for it.
     */
    public long errors(final BlkError error)
    {
        return errors[error.ordinal()];
    }

    /** @return bytes read from the backend into the guest. */
    public long bytesRead()
    {
        return bytesRead;
    }

    /** @return bytes written from the guest to the backend. */
    public long bytesWritten()
    {
        return bytesWritten;
    }
}
