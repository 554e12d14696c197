package org.virtio4j.devices.vsock;

/**
 * The virtio-vsock packet header, 44 bytes, little-endian, packed (virtio 1.2 section 5.10.6).
 * <pre>
 *  +---------------------------------------------------------------+
 *  | src_cid (u64)                                                 |  0
 *  | dst_cid (u64)                                                 |  8
 *  +-------------------------------+-------------------------------+
 *  | src_port (u32)                | dst_port (u32)                | 16
 *  +-------------------------------+---------------+---------------+
 *  | len (u32)                     | type (u16)    | op (u16)      | 24
 *  +-------------------------------+---------------+---------------+
 *  | flags (u32)                   | buf_alloc (u32)               | 32
 *  +-------------------------------+-------------------------------+
 *  | fwd_cnt (u32)                 |                                 40
 *  +-------------------------------+
 * </pre>
 */
public final class VsockHeaderLayout
{
    /** Offset of the source context id. */
    public static final int SRC_CID = 0;
    /** Offset of the destination context id. */
    public static final int DST_CID = 8;
    /** Offset of the source port. */
    public static final int SRC_PORT = 16;
    /** Offset of the destination port. */
    public static final int DST_PORT = 20;
    /** Offset of the data length. */
    public static final int LEN = 24;
    /** Offset of the socket type. */
    public static final int TYPE = 28;
    /** Offset of the operation. */
    public static final int OP = 30;
    /** Offset of the flags. */
    public static final int FLAGS = 32;
    /** Offset of the sender's receive buffer size. */
    public static final int BUF_ALLOC = 36;
    /** Offset of the sender's count of bytes it has consumed. */
    public static final int FWD_CNT = 40;
    /** Size of the header. */
    public static final int SIZE = 44;

    private VsockHeaderLayout()
    {
    }
}
