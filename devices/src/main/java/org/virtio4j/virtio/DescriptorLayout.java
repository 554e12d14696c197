package org.virtio4j.virtio;

/**
 * A split-ring descriptor, 16 bytes, little-endian (virtio 1.2 section 2.7.5).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                        addr (u64, low)                        |  0
 *  |                        addr (u64, high)                       |  4
 *  +---------------------------------------------------------------+
 *  |                           len (u32)                           |  8
 *  +-------------------------------+-------------------------------+
 *  |          flags (u16)          |           next (u16)          | 12
 *  +-------------------------------+-------------------------------+
 * </pre>
 * A descriptor table of a queue of size n holds n descriptors and must be 16-byte aligned.
 */
public final class DescriptorLayout
{
    /** Offset of the buffer's guest-physical address. */
    public static final int ADDR_OFFSET = 0;
    /** Offset of the buffer's length. */
    public static final int LEN_OFFSET = 8;
    /** Offset of the flags. */
    public static final int FLAGS_OFFSET = 12;
    /** Offset of the index of the next descriptor (valid with {@link #F_NEXT}). */
    public static final int NEXT_OFFSET = 14;
    /** Size of one descriptor. */
    public static final int SIZE = 16;
    /** Required alignment of a descriptor table. */
    public static final int TABLE_ALIGNMENT = 16;

    /** Flag: the chain continues at {@code next}. */
    public static final int F_NEXT = 1;
    /** Flag: the buffer is device-writable (otherwise device-readable). */
    public static final int F_WRITE = 2;
    /** Flag: the buffer holds an indirect table of descriptors. */
    public static final int F_INDIRECT = 4;

    /** Most descriptors an indirect table may hold (its length field is 32 bits, its indices 16). */
    public static final int MAX_INDIRECT_ENTRIES = 65535;

    private DescriptorLayout()
    {
    }
}
