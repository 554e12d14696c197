package org.virtio4j.virtio;

/**
 * Device-independent feature bits (virtio 1.2 section 6), as bit numbers. A feature set is a {@code long}
 * with bit {@code n} set for each offered or accepted feature; see {@link #bit(int)}.
 */
public final class VirtioFeatures
{
    /** Bit 27: the driver may use any descriptor layout (implied by VERSION_1). */
    public static final int ANY_LAYOUT = 27;
    /** Bit 28: descriptors may point to an indirect table of further descriptors. */
    public static final int RING_INDIRECT_DESC = 28;
    /**
     * Bit 29: notification suppression by event indices (the used_event field of the avail ring and the
     * avail_event field of the used ring) instead of the ring flags.
     */
    public static final int RING_EVENT_IDX = 29;
    /** Bit 32: the device follows virtio 1.0 or later (no legacy interface). */
    public static final int VERSION_1 = 32;
    /** Bit 33: the device is behind an IOMMU; addresses are bus addresses to translate (access platform). */
    public static final int ACCESS_PLATFORM = 33;
    /** Bit 34: the packed virtqueue layout is supported. */
    public static final int RING_PACKED = 34;
    /** Bit 35: the device uses buffers in the order the driver made them available. */
    public static final int IN_ORDER = 35;
    /** Bit 36: memory accesses are ordered by platform rules (needed by hardware devices). */
    public static final int ORDER_PLATFORM = 36;
    /** Bit 37: the device supports single-root I/O virtualisation. */
    public static final int SR_IOV = 37;
    /** Bit 38: the driver sends extra data (the next available index) with its notifications. */
    public static final int NOTIFICATION_DATA = 38;
    /** Bit 39: the driver uses the data the device provides in notification configuration. */
    public static final int NOTIF_CONFIG_DATA = 39;
    /** Bit 40: the driver may reset a single queue. */
    public static final int RING_RESET = 40;

    private VirtioFeatures()
    {
    }

    /**
     * @param feature a feature bit number, 0 to 63.
     * @return the feature as a mask.
     */
    public static long bit(final int feature)
    {
        return 1L << feature;
    }

    /**
     * @param features a feature set.
     * @param feature  a feature bit number.
     * @return true if the set holds the feature.
     */
    public static boolean has(final long features, final int feature)
    {
        return (features & bit(feature)) != 0;
    }
}
