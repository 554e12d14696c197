package org.virtio4j.devices.blk;

import java.nio.charset.StandardCharsets;

import org.virtio4j.virtio.VirtioBlk;

/**
 * How a virtio-blk device presents itself: what it offers and the limits it advertises in config space.
 *
 * @param readOnly               refuse writes and offer VIRTIO_BLK_F_RO.
 * @param serial                 the GET_ID serial, at most 20 ASCII bytes; empty to refuse GET_ID (UNSUPP).
 * @param numQueues              request queues, 1 to 256 (more than 1 offers VIRTIO_BLK_F_MQ).
 * @param queueSize              each queue's maximum size, a power of two up to 32768.
 * @param segMax                 the most data segments per request (VIRTIO_BLK_F_SEG_MAX).
 * @param sizeMax                the largest segment in bytes (VIRTIO_BLK_F_SIZE_MAX).
 * @param maxDiscardSectors      the most sectors one DISCARD segment may cover (0: no DISCARD).
 * @param maxDiscardSegments     the most segments one DISCARD may carry.
 * @param maxWriteZeroesSectors  the most sectors one WRITE_ZEROES segment may cover (0: no WRITE_ZEROES).
 * @param maxWriteZeroesSegments the most segments one WRITE_ZEROES may carry.
 */
public record BlkOptions(
    boolean readOnly,
    String serial,
    int numQueues,
    int queueSize,
    int segMax,
    int sizeMax,
    int maxDiscardSectors,
    int maxDiscardSegments,
    int maxWriteZeroesSectors,
    int maxWriteZeroesSegments)
{
    /** Default queue size: what QEMU's vhost-user-blk and Linux use. */
    public static final int DEFAULT_QUEUE_SIZE = 256;
    /** Default segment limit: a queue's worth of descriptors minus header and status. */
    public static final int DEFAULT_SEG_MAX = DEFAULT_QUEUE_SIZE - 2;
    /** Default largest segment: 1 MiB. */
    public static final int DEFAULT_SIZE_MAX = 1 << 20;
    /** Default discard and write-zeroes limit per segment: 4 GiB - 512 bytes worth of sectors. */
    public static final int DEFAULT_MAX_SECTORS = (int)((0xffff_ffffL - VirtioBlk.SECTOR_SIZE + 1) >> VirtioBlk.SECTOR_SHIFT);
    /** Default segments per discard or write-zeroes request. */
    public static final int DEFAULT_MAX_SEGMENTS = 32;

    /** Checks every field, naming the one that is wrong. */
    public BlkOptions
    {
        if (serial == null || serial.getBytes(StandardCharsets.US_ASCII).length > VirtioBlk.ID_BYTES || !StandardCharsets.US_ASCII.newEncoder().canEncode(serial))
        {
            throw new IllegalArgumentException("blk serial=" + serial + " must be at most 20 ASCII characters");
        }
        if (numQueues < 1 || numQueues > 256)
        {
            throw new IllegalArgumentException("blk queues=" + numQueues + " must be in [1, 256]");
        }
        if (queueSize < 1 || queueSize > 32768 || Integer.bitCount(queueSize) != 1)
        {
            throw new IllegalArgumentException("blk queueSize=" + queueSize + " must be a power of two in [1, 32768]");
        }
        if (segMax < 1 || sizeMax < VirtioBlk.SECTOR_SIZE)
        {
            throw new IllegalArgumentException("blk segMax=" + segMax + " sizeMax=" + sizeMax + " must be at least 1 and 512");
        }
        if (maxDiscardSectors < 0 || maxWriteZeroesSectors < 0 || maxDiscardSegments < 1 || maxWriteZeroesSegments < 1)
        {
            throw new IllegalArgumentException("blk discard/write-zeroes limits must be non-negative sectors and positive segments");
        }
    }

    /** @return a writable, single-queue device with every feature and the default limits. */
    public static BlkOptions defaults()
    {
        return new BlkOptions(false, "virtio4j", 1, DEFAULT_QUEUE_SIZE, DEFAULT_SEG_MAX, DEFAULT_SIZE_MAX,
            DEFAULT_MAX_SECTORS, DEFAULT_MAX_SEGMENTS, DEFAULT_MAX_SECTORS, DEFAULT_MAX_SEGMENTS);
    }

    /**
     * @param value read-only or not.
     * @return a copy with that setting.
     */
    public BlkOptions withReadOnly(final boolean value)
    {
        return new BlkOptions(value, serial, numQueues, queueSize, segMax, sizeMax, maxDiscardSectors, maxDiscardSegments,
            maxWriteZeroesSectors, maxWriteZeroesSegments);
    }

    /**
     * @param value the serial.
     * @return a copy with that serial.
     */
    public BlkOptions withSerial(final String value)
    {
        return new BlkOptions(readOnly, value, numQueues, queueSize, segMax, sizeMax, maxDiscardSectors, maxDiscardSegments,
            maxWriteZeroesSectors, maxWriteZeroesSegments);
    }

    /**
     * @param value the number of request queues.
     * @return a copy with that many.
     */
    public BlkOptions withQueues(final int value)
    {
        return new BlkOptions(readOnly, serial, value, queueSize, segMax, sizeMax, maxDiscardSectors, maxDiscardSegments,
            maxWriteZeroesSectors, maxWriteZeroesSegments);
    }

    /**
     * @param value each queue's maximum size.
     * @return a copy with that size.
     */
    public BlkOptions withQueueSize(final int value)
    {
        return new BlkOptions(readOnly, serial, numQueues, value, Math.max(1, Math.min(segMax, value - 2)), sizeMax,
            maxDiscardSectors, maxDiscardSegments, maxWriteZeroesSectors, maxWriteZeroesSegments);
    }

    /**
     * @param discardSectors      the discard limit per segment (0 disables DISCARD).
     * @param discardSegments     the discard segments per request.
     * @param writeZeroesSectors  the write-zeroes limit per segment (0 disables WRITE_ZEROES).
     * @param writeZeroesSegments the write-zeroes segments per request.
     * @return a copy with those limits.
     */
    public BlkOptions withDiscardLimits(final int discardSectors, final int discardSegments, final int writeZeroesSectors, final int writeZeroesSegments)
    {
        return new BlkOptions(readOnly, serial, numQueues, queueSize, segMax, sizeMax, discardSectors, discardSegments,
            writeZeroesSectors, writeZeroesSegments);
    }
}
