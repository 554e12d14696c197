package org.virtio4j.devices.vsock;

/**
 * Why a vsock packet could not be taken from a chain. Each names the vm-virtio {@code virtio_vsock::packet::Error}
 * variant it corresponds to.
 */
public enum VsockParseError
{
    /** The chain ended before the header or the data it promised. */
    DESCRIPTOR_CHAIN_TOO_SHORT,
    /** A TX descriptor is device-writable. */
    UNEXPECTED_WRITE_ONLY_DESCRIPTOR,
    /** An RX descriptor is device-readable. */
    UNEXPECTED_READ_ONLY_DESCRIPTOR,
    /** The header descriptor is under 44 bytes, or a TX data descriptor is shorter than the header's len. */
    DESCRIPTOR_LENGTH_TOO_SMALL,
    /** An RX data descriptor is longer than the most data a packet may carry. */
    DESCRIPTOR_LENGTH_TOO_LONG,
    /** A TX header's len is above the most data a packet may carry (see {@link VsockPacket#len()}). */
    INVALID_HEADER_LEN,
    /** The header or data does not fit in the one region its start is in. */
    FRAGMENTED_MEMORY,
    /** The header or data starts outside guest memory (see {@link VsockPacket#memoryError()}). */
    INVALID_MEMORY_ACCESS,
}
