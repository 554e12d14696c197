package org.virtio4j.devices.blk;

/**
 * Why a parsed virtio-blk request failed to execute, for counting. Each maps to the status the driver gets.
 */
public enum BlkError
{
    /** A write-type request on a read-only device (IOERR). */
    READ_ONLY,
    /** An unknown type, or a feature that was not negotiated (UNSUPP). */
    UNSUPPORTED,
    /** Data length not a multiple of 512, a GET_ID buffer that is not 20 bytes, segments not a multiple of 16 (IOERR). */
    BAD_LENGTH,
    /** Sectors past the end of the disk, or sector arithmetic that overflows (IOERR). */
    OUT_OF_RANGE,
    /** A data buffer outside guest memory, or of the wrong direction (IOERR). */
    BAD_BUFFER,
    /** Segment flags other than those the type allows (UNSUPP). */
    BAD_FLAGS,
    /** More segments, sectors or bytes per segment than config space advertises (UNSUPP for segments, IOERR otherwise). */
    LIMIT_EXCEEDED,
    /** The backend failed (IOERR). */
    BACKEND_IO,
    /**
     * DISCARD/WRITE_ZEROES segments that add up to more sectors than the disk has: overlapping ranges, which no
     * driver needs and which would multiply the work of one request (IOERR).
     */
    SEGMENTS_EXCEED_DISK
}
