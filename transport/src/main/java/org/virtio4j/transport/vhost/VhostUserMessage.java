package org.virtio4j.transport.vhost;

/**
 * The vhost-user message layouts, little-endian (QEMU's docs/interop/vhost-user.rst).
 * <pre>
 *  header:        request u32 | flags u32 | size u32 | payload[size]
 *  flags:         bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY
 *  u64:           value u64                                              (features, fd index, status, ...)
 *  vring state:   index u32 | num u32
 *  vring address: index u32 | flags u32 | desc u64 | used u64 | avail u64 | log u64   (front-end virtual addresses)
 *  mem region:    guest_phys_addr u64 | memory_size u64 | userspace_addr u64 | mmap_offset u64
 *  mem table:     num_regions u32 | padding u32 | mem region[num_regions ≤ 8]
 *  single region: padding u64 | mem region                                 (ADD_MEM_REG / REM_MEM_REG)
 *  config:        offset u32 | size u32 | flags u32 | payload[size]
 * </pre>
 */
public final class VhostUserMessage
{
    /** Header size. */
    public static final int HEADER_SIZE = 12;
    /** The largest payload we accept; anything larger closes the connection. */
    public static final int MAX_PAYLOAD = 4096;
    /** Protocol version in the flags. */
    public static final int VERSION = 0x1;
    /** Flags: version mask. */
    public static final int VERSION_MASK = 0x3;
    /** Flags: this is a reply. */
    public static final int REPLY = 0x4;
    /** Flags: the sender wants a REPLY_ACK answer. */
    public static final int NEED_REPLY = 0x8;

    /** u64 payload size. */
    public static final int U64_SIZE = 8;
    /** Vring state payload size. */
    public static final int VRING_STATE_SIZE = 8;
    /** Vring address payload size. */
    public static final int VRING_ADDR_SIZE = 40;
    /** One memory region. */
    public static final int MEM_REGION_SIZE = 32;
    /** Most regions in SET_MEM_TABLE. */
    public static final int MAX_TABLE_REGIONS = 8;
    /** Single-region payload size. */
    public static final int SINGLE_REGION_SIZE = 8 + MEM_REGION_SIZE;
    /** Config payload header size. */
    public static final int CONFIG_HEADER_SIZE = 12;
    /** Largest config payload. */
    public static final int MAX_CONFIG_SIZE = 256;
    /** In SET_VRING_KICK/CALL/ERR: the ring index. */
    public static final long VRING_INDEX_MASK = 0xff;
    /** In SET_VRING_KICK/CALL/ERR: no fd comes with the message. */
    public static final long VRING_NOFD = 0x100;

    /** Virtio feature: the protocol-features extension (bit 30). */
    public static final int F_PROTOCOL_FEATURES = 30;

    /** Virtio feature {@code VHOST_F_LOG_ALL} (bit 26): the back-end logs its writes to guest memory (migration). */
    public static final int F_LOG_ALL = 26;
    /** In SET_VRING_ADDR's flags: log the used ring's writes at the message's log address. */
    public static final int VRING_F_LOG = 1;
    /** {@code VhostUserLog}: mmap_size u64, mmap_offset u64. */
    public static final int LOG_SIZE = 16;

    /** Protocol feature: several queues. */
    public static final int PROTOCOL_F_MQ = 0;
    /** Protocol feature {@code LOG_SHMFD}: the dirty log is shared memory (SET_LOG_BASE with an fd, and a reply). */
    public static final int PROTOCOL_F_LOG_SHMFD = 1;
    /** Protocol feature: REPLY_ACK. */
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    /** Protocol feature: back-end request channel. */
    public static final int PROTOCOL_F_BACKEND_REQ = 5;
    /** Protocol feature: config space messages. */
    public static final int PROTOCOL_F_CONFIG = 9;
    /** Protocol feature: RESET_DEVICE. */
    public static final int PROTOCOL_F_RESET_DEVICE = 13;
    /** {@code VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD}: inflight tracking in shared memory (back-end reconnect). */
    public static final int PROTOCOL_F_INFLIGHT_SHMFD = 12;
    /** {@code VhostUserInflight}: mmap_size u64, mmap_offset u64, num_queues u16, queue_size u16, 4 bytes of padding. */
    public static final int INFLIGHT_SIZE = 24;
    /** Protocol feature: ADD_MEM_REG / REM_MEM_REG / GET_MAX_MEM_SLOTS. */
    public static final int PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15;
    /** Protocol feature: SET_STATUS / GET_STATUS. */
    public static final int PROTOCOL_F_STATUS = 16;

    private VhostUserMessage()
    {
    }
}
