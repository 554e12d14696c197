package org.virtio4j.transport.vhost;

/**
 * Front-end request codes of the vhost-user protocol, and their names for logs and counters.
 */
public final class VhostUserRequest
{
    /** Which features the back-end offers (u64 reply). */
    public static final int GET_FEATURES = 1;
    /** The features the front-end accepts (u64). */
    public static final int SET_FEATURES = 2;
    /** The front-end claims the back-end. */
    public static final int SET_OWNER = 3;
    /** Deprecated: reset ownership. */
    public static final int RESET_OWNER = 4;
    /** All guest memory regions at once, with one fd each. */
    public static final int SET_MEM_TABLE = 5;
    /** Dirty log base (not offered). */
    public static final int SET_LOG_BASE = 6;
    /** Dirty log fd (not offered). */
    public static final int SET_LOG_FD = 7;
    /** A ring's size. */
    public static final int SET_VRING_NUM = 8;
    /** A ring's addresses, as front-end virtual addresses. */
    public static final int SET_VRING_ADDR = 9;
    /** A ring's next available index. */
    public static final int SET_VRING_BASE = 10;
    /** Stops a ring and asks for its next available index. */
    public static final int GET_VRING_BASE = 11;
    /** A ring's kick eventfd (guest to device). */
    public static final int SET_VRING_KICK = 12;
    /** A ring's call eventfd (device to guest). */
    public static final int SET_VRING_CALL = 13;
    /** A ring's error eventfd. */
    public static final int SET_VRING_ERR = 14;
    /** Which protocol features the back-end offers (u64 reply). */
    public static final int GET_PROTOCOL_FEATURES = 15;
    /** The protocol features the front-end accepts. */
    public static final int SET_PROTOCOL_FEATURES = 16;
    /** How many queues the back-end supports (u64 reply). */
    public static final int GET_QUEUE_NUM = 17;
    /** Enables or disables a ring. */
    public static final int SET_VRING_ENABLE = 18;
    /** Net: send a RARP (not supported). */
    public static final int SEND_RARP = 19;
    /** Net: MTU (not supported). */
    public static final int NET_SET_MTU = 20;
    /** The back-end to front-end channel's socket fd. */
    public static final int SET_BACKEND_REQ_FD = 21;
    /** IOTLB message (not supported). */
    public static final int IOTLB_MSG = 22;
    /** Ring endianness (legacy; not supported). */
    public static final int SET_VRING_ENDIAN = 23;
    /** Reads the device's config space. */
    public static final int GET_CONFIG = 24;
    /** Writes the device's config space. */
    public static final int SET_CONFIG = 25;
    /** Resets the device (with the RESET_DEVICE protocol feature). */
    public static final int RESET_DEVICE = 34;
    /** {@code VHOST_USER_GET_INFLIGHT_FD}: the front-end asks for a shared inflight region. */
    public static final int GET_INFLIGHT_FD = 31;
    /** {@code VHOST_USER_SET_INFLIGHT_FD}: the front-end hands the inflight region (back) to the back-end. */
    public static final int SET_INFLIGHT_FD = 32;
    /** How many memory slots the back-end supports (u64 reply). */
    public static final int GET_MAX_MEM_SLOTS = 36;
    /** Adds one memory region, with its fd. */
    public static final int ADD_MEM_REG = 37;
    /** Removes one memory region. */
    public static final int REM_MEM_REG = 38;
    /** The device status byte. */
    public static final int SET_STATUS = 39;
    /** Reads the device status byte (u64 reply). */
    public static final int GET_STATUS = 40;

    private VhostUserRequest()
    {
    }

    /**
     * @param request a request code.
     * @return its name, or {@code REQUEST_n}.
     */
    public static String name(final int request)
    {
        return switch (request)
        {
            case GET_FEATURES -> "GET_FEATURES";
            case SET_FEATURES -> "SET_FEATURES";
            case SET_OWNER -> "SET_OWNER";
            case RESET_OWNER -> "RESET_OWNER";
            case SET_MEM_TABLE -> "SET_MEM_TABLE";
            case SET_LOG_BASE -> "SET_LOG_BASE";
            case SET_LOG_FD -> "SET_LOG_FD";
            case SET_VRING_NUM -> "SET_VRING_NUM";
            case SET_VRING_ADDR -> "SET_VRING_ADDR";
            case SET_VRING_BASE -> "SET_VRING_BASE";
            case GET_VRING_BASE -> "GET_VRING_BASE";
            case SET_VRING_KICK -> "SET_VRING_KICK";
            case SET_VRING_CALL -> "SET_VRING_CALL";
            case SET_VRING_ERR -> "SET_VRING_ERR";
            case GET_PROTOCOL_FEATURES -> "GET_PROTOCOL_FEATURES";
            case SET_PROTOCOL_FEATURES -> "SET_PROTOCOL_FEATURES";
            case GET_QUEUE_NUM -> "GET_QUEUE_NUM";
            case SET_VRING_ENABLE -> "SET_VRING_ENABLE";
            case SET_BACKEND_REQ_FD -> "SET_BACKEND_REQ_FD";
            case GET_CONFIG -> "GET_CONFIG";
            case SET_CONFIG -> "SET_CONFIG";
            case RESET_DEVICE -> "RESET_DEVICE";
            case GET_INFLIGHT_FD -> "GET_INFLIGHT_FD";
            case SET_INFLIGHT_FD -> "SET_INFLIGHT_FD";
            case GET_MAX_MEM_SLOTS -> "GET_MAX_MEM_SLOTS";
            case ADD_MEM_REG -> "ADD_MEM_REG";
            case REM_MEM_REG -> "REM_MEM_REG";
            case SET_STATUS -> "SET_STATUS";
            case GET_STATUS -> "GET_STATUS";
            default -> "REQUEST_" + request;
        };
    }
}
