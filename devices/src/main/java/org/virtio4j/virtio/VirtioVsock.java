package org.virtio4j.virtio;

/**
 * virtio-vsock constants (virtio 1.2 section 5.10): queues, packet types, operations and flags.
 */
public final class VirtioVsock
{
    /** Feature: stream sockets. */
    public static final int F_STREAM = 0;
    /** Feature: seqpacket sockets. */
    public static final int F_SEQPACKET = 1;

    /** Queue index of the receive queue (device to driver). */
    public static final int RXQ = 0;
    /** Queue index of the transmit queue (driver to device). */
    public static final int TXQ = 1;
    /** Queue index of the event queue. */
    public static final int EVENTQ = 2;

    /** The CID of the host. */
    public static final long HOST_CID = 2;
    /** Size of the packet header. */
    public static final int HEADER_SIZE = 44;

    /** Type: connection-oriented byte stream. */
    public static final int TYPE_STREAM = 1;
    /** Type: connection-oriented message stream. */
    public static final int TYPE_SEQPACKET = 2;

    /** Op: invalid. */
    public static final int OP_INVALID = 0;
    /** Op: connection request. */
    public static final int OP_REQUEST = 1;
    /** Op: connection accepted. */
    public static final int OP_RESPONSE = 2;
    /** Op: connection reset (or refused). */
    public static final int OP_RST = 3;
    /** Op: no more data in one or both directions (flags). */
    public static final int OP_SHUTDOWN = 4;
    /** Op: data. */
    public static final int OP_RW = 5;
    /** Op: the sender's buf_alloc and fwd_cnt, unasked. */
    public static final int OP_CREDIT_UPDATE = 6;
    /** Op: asks the peer for a CREDIT_UPDATE. */
    public static final int OP_CREDIT_REQUEST = 7;

    /** SHUTDOWN flag: the sender will receive no more data. */
    public static final int SHUTDOWN_RCV = 1;
    /** SHUTDOWN flag: the sender will send no more data. */
    public static final int SHUTDOWN_SEND = 2;
    /** SEQPACKET flag: end of message. */
    public static final int SEQ_EOM = 1;
    /** SEQPACKET flag: end of record. */
    public static final int SEQ_EOR = 2;

    /** Event id: the transport was reset; the driver drops every connection. */
    public static final int EVENT_TRANSPORT_RESET = 0;

    private VirtioVsock()
    {
    }
}
