package org.virtio4j.devices.blk;

/**
 * The virtio-blk config space (virtio 1.2 section 5.2.4), little-endian; fields count only with their feature.
 * <pre>
 *   0 capacity u64 (512-byte sectors, always)     36 max_discard_sectors u32      (F_DISCARD)
 *   8 size_max u32           (F_SIZE_MAX)         40 max_discard_seg u32          (F_DISCARD)
 *  12 seg_max u32            (F_SEG_MAX)          44 discard_sector_alignment u32 (F_DISCARD)
 *  16 geometry c u16, h u8, s u8 (F_GEOMETRY)     48 max_write_zeroes_sectors u32 (F_WRITE_ZEROES)
 *  20 blk_size u32           (F_BLK_SIZE)         52 max_write_zeroes_seg u32     (F_WRITE_ZEROES)
 *  24 physical_block_exp u8, alignment_offset u8, 56 write_zeroes_may_unmap u8    (F_WRITE_ZEROES)
 *     min_io_size u16, opt_io_size u32 (F_TOPOLOGY)  57 unused[3]
 *  32 writeback u8 (F_CONFIG_WCE), 33 unused
 *  34 num_queues u16         (F_MQ)
 * </pre>
 */
public final class BlkConfigLayout
{
    /** Capacity in sectors. */
    public static final int CAPACITY = 0;
    /** Largest segment. */
    public static final int SIZE_MAX = 8;
    /** Most segments. */
    public static final int SEG_MAX = 12;
    /** Block size. */
    public static final int BLK_SIZE = 20;
    /** Physical block exponent (topology). */
    public static final int PHYSICAL_BLOCK_EXP = 24;
    /** Alignment offset (topology). */
    public static final int ALIGNMENT_OFFSET = 25;
    /** Minimum I/O size in blocks (topology). */
    public static final int MIN_IO_SIZE = 26;
    /** Optimal I/O size in blocks (topology). */
    public static final int OPT_IO_SIZE = 28;
    /** Writeback cache mode. */
    public static final int WRITEBACK = 32;
    /** Number of request queues. */
    public static final int NUM_QUEUES = 34;
    /** Discard sector limit per segment. */
    public static final int MAX_DISCARD_SECTORS = 36;
    /** Discard segments per request. */
    public static final int MAX_DISCARD_SEG = 40;
    /** Discard alignment in sectors. */
    public static final int DISCARD_SECTOR_ALIGNMENT = 44;
    /** Write-zeroes sector limit per segment. */
    public static final int MAX_WRITE_ZEROES_SECTORS = 48;
    /** Write-zeroes segments per request. */
    public static final int MAX_WRITE_ZEROES_SEG = 52;
    /** Whether write-zeroes may deallocate. */
    public static final int WRITE_ZEROES_MAY_UNMAP = 56;
    /** Size of the config space we expose. */
    public static final int SIZE = 60;

    private BlkConfigLayout()
    {
    }
}
