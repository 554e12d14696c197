package org.virtio4j.virtio;

/**
 * Why a queue operation failed. Each names the vm-virtio {@code virtio_queue::Error} variant it corresponds to.
 */
public enum QueueError
{
    /** Ring address arithmetic passed 2^64 ({@code AddressOverflow}). */
    ADDRESS_OVERFLOW,
    /** A ring load or store hit memory outside the guest ({@code GuestMemory}). */
    GUEST_MEMORY,
    /** {@code add_used} with a head index at or above the queue size ({@code InvalidDescriptorIndex}). */
    INVALID_DESCRIPTOR_INDEX,
    /** A maximum size that is 0, above 32768 or not a power of two ({@code InvalidMaxSize}). */
    INVALID_MAX_SIZE,
    /** A size that is 0, above the maximum or not a power of two ({@code InvalidSize}). */
    INVALID_SIZE,
    /** A descriptor table address that is not 16-byte aligned ({@code InvalidDescTableAlign}). */
    DESC_TABLE_MISALIGNED,
    /** An available ring address that is not 2-byte aligned ({@code InvalidAvailRingAlign}). */
    AVAIL_RING_MISALIGNED,
    /** A used ring address that is not 4-byte aligned ({@code InvalidUsedRingAlign}). */
    USED_RING_MISALIGNED,
    /** The driver exposed more chains than the queue holds ({@code InvalidAvailRingIndex}). */
    TOO_MANY_AVAILABLE,
    /** The queue is not ready, or has no available ring ({@code QueueNotReady}). */
    NOT_READY,
    /** A chain's buffer lies outside guest memory ({@code GuestMemoryError}, from Reader/Writer construction). */
    CHAIN_BUFFER_NOT_IN_MEMORY,
    /** A chain's byte count overflowed ({@code DescriptorChainOverflow}). */
    CHAIN_OVERFLOW,
    /** A Reader/Writer split past its available bytes ({@code SplitOutOfBounds}). */
    SPLIT_OUT_OF_BOUNDS,
    /** A Reader/Writer had fewer bytes than an exact read or write needs (an io {@code UnexpectedEof}/{@code WriteZero}). */
    SHORT_BUFFER,
}
