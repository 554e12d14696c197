package org.virtio4j.virtio;

/**
 * The inflight region of a split queue (vhost-user "Inflight I/O tracking", INFLIGHT_SHMFD): shared memory that
 * survives a back-end restart, in which the back-end records which chains it has taken and not yet returned, so
 * that a new back-end process can resubmit exactly those. One region per queue, back to back, each
 * {@link #queueBytes} long; the layout is a contract between back-end versions (QEMU never reads it), and
 * {@link #VERSION} says which one a region holds.
 *
 * <pre>
 * queue region (16 + 16 * desc_num bytes, rounded up to 64)
 *  0                8         10         12                14         16
 * +-----------------+----------+----------+-----------------+----------+
 * | features u64    | version  | desc_num | last_batch_head | used_idx |   then desc_num entries:
 * +-----------------+----------+----------+-----------------+----------+
 *  0          1             6        8                    16
 * +----------+-------------+--------+--------------------+
 * | inflight | (padding 5) | next   | counter u64        |   one per head index
 * +----------+-------------+--------+--------------------+
 * </pre>
 */
public final class InflightLayout
{
    /** The layout version this back-end writes (0 in a region means uninitialised: a fresh region). */
    public static final int VERSION = 1;
    /** Header fields. */
    public static final int FEATURES = 0;
    /** Layout version. */
    public static final int VERSION_OFFSET = 8;
    /** Entries (the queue size). */
    public static final int DESC_NUM = 10;
    /** Head of the last batch returned to the used ring. */
    public static final int LAST_BATCH_HEAD = 12;
    /** Shadow of used.idx, written after each batch is cleared. */
    public static final int USED_IDX = 14;
    /** Header size: the first entry starts here. */
    public static final int HEADER_SIZE = 16;
    /** Entry size. */
    public static final int DESC_SIZE = 16;
    /** Entry fields. */
    public static final int DESC_INFLIGHT = 0;
    /** Links the last batch. */
    public static final int DESC_NEXT = 6;
    /** Fetch order. */
    public static final int DESC_COUNTER = 8;

    private InflightLayout()
    {
    }

    /**
     * @param queueSize the queue size.
     * @return the bytes one queue's region takes (the stride between queues), as libvhost-user and DPDK lay it out
     * for queue sizes that are multiples of 4.
     */
    public static long queueBytes(final int queueSize)
    {
        return ((long)HEADER_SIZE + (long)DESC_SIZE * queueSize + 63) & ~63L;
    }
}
