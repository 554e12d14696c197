package org.virtio4j.virtio;

/**
 * virtio-blk constants (virtio 1.2 section 5.2): feature bits, request types, status values and sizes.
 */
public final class VirtioBlk
{
    /** Sectors are 512 bytes, whatever the device's block size. */
    public static final int SECTOR_SHIFT = 9;
    /** Bytes per sector. */
    public static final int SECTOR_SIZE = 1 << SECTOR_SHIFT;
    /** Length of the serial returned by GET_ID. */
    public static final int ID_BYTES = 20;

    /** Feature: the size_max config field gives the largest segment. */
    public static final int F_SIZE_MAX = 1;
    /** Feature: the seg_max config field gives the most segments per request. */
    public static final int F_SEG_MAX = 2;
    /** Feature: legacy disk geometry in config. */
    public static final int F_GEOMETRY = 4;
    /** Feature: the device is read-only. */
    public static final int F_RO = 5;
    /** Feature: the blk_size config field gives the block size. */
    public static final int F_BLK_SIZE = 6;
    /** Feature: FLUSH requests are supported. */
    public static final int F_FLUSH = 9;
    /** Feature: topology (physical block exponent, alignment, minimal and optimal I/O sizes) in config. */
    public static final int F_TOPOLOGY = 10;
    /** Feature: the writeback config field toggles the cache mode. */
    public static final int F_CONFIG_WCE = 11;
    /** Feature: several request queues (num_queues in config). */
    public static final int F_MQ = 12;
    /** Feature: DISCARD requests, with their limits in config. */
    public static final int F_DISCARD = 13;
    /** Feature: WRITE_ZEROES requests, with their limits in config. */
    public static final int F_WRITE_ZEROES = 14;
    /** Feature: lifetime metrics. */
    public static final int F_LIFETIME = 15;
    /** Feature: SECURE_ERASE requests. */
    public static final int F_SECURE_ERASE = 16;

    /** Request: read from the device into the data buffers. */
    public static final int T_IN = 0;
    /** Request: write the data buffers to the device. */
    public static final int T_OUT = 1;
    /** Request: legacy SCSI command (unsupported). */
    public static final int T_SCSI_CMD = 2;
    /** Request: flush the device's write cache. */
    public static final int T_FLUSH = 4;
    /** Request: return the device's serial (20 bytes). */
    public static final int T_GET_ID = 8;
    /** Request: return the lifetime metrics. */
    public static final int T_GET_LIFETIME = 10;
    /** Request: discard the sectors of each segment. */
    public static final int T_DISCARD = 11;
    /** Request: zero the sectors of each segment (UNMAP allows deallocating them). */
    public static final int T_WRITE_ZEROES = 13;
    /** Request: securely erase the sectors of each segment. */
    public static final int T_SECURE_ERASE = 14;

    /** Status: the request succeeded. */
    public static final int S_OK = 0;
    /** Status: the request failed with an I/O error. */
    public static final int S_IOERR = 1;
    /** Status: the request is not supported. */
    public static final int S_UNSUPP = 2;

    /** Request header size: type u32, reserved u32, sector u64. */
    public static final int HEADER_SIZE = 16;
    /** DISCARD/WRITE_ZEROES segment size: sector u64, num_sectors u32, flags u32. */
    public static final int SEGMENT_SIZE = 16;
    /** WRITE_ZEROES segment flag: the device may deallocate the zeroed sectors. */
    public static final int WRITE_ZEROES_FLAG_UNMAP = 1;

    private VirtioBlk()
    {
    }
}
