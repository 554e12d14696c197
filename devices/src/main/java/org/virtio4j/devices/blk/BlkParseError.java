package org.virtio4j.devices.blk;

/**
 * Why a virtio-blk request chain could not be parsed. Each names the vm-virtio {@code virtio_blk::request::Error}
 * variant it corresponds to. A request that fails to parse is answered with IOERR if its status byte is usable.
 */
public enum BlkParseError
{
    /** The chain ended before a header, a data descriptor it promised, or the status descriptor. */
    DESCRIPTOR_CHAIN_TOO_SHORT,
    /** The header descriptor is device-writable. */
    UNEXPECTED_WRITE_ONLY_DESCRIPTOR,
    /** A data descriptor of an IN request, or the status descriptor, is device-readable. */
    UNEXPECTED_READ_ONLY_DESCRIPTOR,
    /** The status descriptor has length 0. */
    DESCRIPTOR_LENGTH_TOO_SMALL,
    /** A FLUSH request with a sector other than 0. */
    INVALID_FLUSH_SECTOR,
    /** The header or the status byte is not in guest memory (see {@link BlkRequest#memoryError()}). */
    GUEST_MEMORY,
}
