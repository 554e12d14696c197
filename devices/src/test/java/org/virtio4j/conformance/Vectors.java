package org.virtio4j.conformance;

import java.util.LinkedHashMap;
import java.util.Map;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.QueueError;
import org.virtio4j.virtio.QueueException;

/**
 * Reading vector fields and writing results in the vectors' shapes, and the documented mapping from our error
 * types to vm-virtio's variant names (docs/conformance.md).
 */
final class Vectors
{
    private Vectors()
    {
    }

    /** @return a u64 given as {@code "0x..."}. */
    static long u64(final Object hex)
    {
        final String text = (String)hex;
        if (!text.startsWith("0x"))
        {
            throw new IllegalArgumentException("not a hex u64: " + text);
        }
        return Long.parseUnsignedLong(text.substring(2), 16);
    }

    /** @return a number field as an int (u16 and u32 values wrap into the int as their bits). */
    static int num(final Object value)
    {
        return (int)(long)(Long)value;
    }

    static String hex(final long value)
    {
        return GuestAddress.hex(value);
    }

    static Map<String, Object> map(final Object... keysAndValues)
    {
        final Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2)
        {
            map.put((String)keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }

    /** vm-virtio's {@code virtio_queue::Error} variant name for each of our queue errors. */
    static String variant(final QueueError error)
    {
        return switch (error)
        {
            case ADDRESS_OVERFLOW -> "AddressOverflow";
            case GUEST_MEMORY -> "GuestMemory";
            case INVALID_DESCRIPTOR_INDEX -> "InvalidDescriptorIndex";
            case INVALID_MAX_SIZE -> "InvalidMaxSize";
            case INVALID_SIZE -> "InvalidSize";
            case DESC_TABLE_MISALIGNED -> "InvalidDescTableAlign";
            case AVAIL_RING_MISALIGNED -> "InvalidAvailRingAlign";
            case USED_RING_MISALIGNED -> "InvalidUsedRingAlign";
            case TOO_MANY_AVAILABLE -> "InvalidAvailRingIndex";
            case NOT_READY -> "QueueNotReady";
            case CHAIN_BUFFER_NOT_IN_MEMORY -> "GuestMemoryError";
            case CHAIN_OVERFLOW -> "DescriptorChainOverflow";
            case SPLIT_OUT_OF_BOUNDS -> "SplitOutOfBounds";
            case SHORT_BUFFER -> "UnexpectedEof";
        };
    }

    /** @return {@code {"err": variant}} plus the memory detail when there is one. */
    static Map<String, Object> error(final QueueException e)
    {
        return error(variant(e.error()), e.memoryError());
    }

    static Map<String, Object> error(final String variant, final GuestMemoryException detail)
    {
        final Map<String, Object> result = map("err", variant);
        if (detail != null)
        {
            result.put("err_detail", detail(detail));
        }
        return result;
    }

    /** vm-memory's {@code GuestMemoryError} variant for each kind of failed access. */
    static Map<String, Object> detail(final GuestMemoryException e)
    {
        return switch (e.kind())
        {
            case INVALID_GUEST_ADDRESS -> map("variant", "InvalidGuestAddress", "addr", hex(e.address()));
            case PARTIAL_BUFFER -> map("variant", "PartialBuffer", "expected", e.expected(), "completed", e.completed());
            case INVALID_BACKEND_ADDRESS -> map("variant", "InvalidBackendAddress");
            case ADDRESS_OVERFLOW -> map("variant", "AddressOverflow");
        };
    }
}
