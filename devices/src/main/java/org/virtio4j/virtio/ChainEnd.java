package org.virtio4j.virtio;

/**
 * Why a descriptor chain walk ended. vm-virtio ends a malformed chain silently; we end it at the same place
 * but keep the reason, so a device can count it and report it.
 */
public enum ChainEnd
{
    /** Not ended yet. */
    NONE,
    /** The last descriptor had no NEXT flag: a well-formed end. */
    COMPLETE,
    /** NEXT was still set after as many descriptors as the table holds: a loop or an over-long chain. */
    TTL_EXPIRED,
    /** A head or next index at or above the table size. */
    INDEX_OUT_OF_RANGE,
    /** A descriptor could not be read from guest memory (or its address overflowed). */
    DESCRIPTOR_NOT_IN_MEMORY,
    /** An INDIRECT descriptor inside an indirect table (nesting is forbidden). */
    NESTED_INDIRECT,
    /** An indirect table whose length is not a multiple of 16 or holds more than 65535 entries. */
    BAD_INDIRECT_TABLE,
    /** The chain's total length would pass 2^32 - 1 bytes. */
    LENGTH_OVERFLOW;

    /** @return true if the chain ended because the guest wrote something malformed. */
    public boolean isMalformed()
    {
        return this != NONE && this != COMPLETE;
    }
}
